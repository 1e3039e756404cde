/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sdnotify: the systemd notify protocol written directly to $NOTIFY_SOCKET
 * (no libsystemd): READY=1, STOPPING=1, WATCHDOG=1, STATUS=...
 */
#ifndef FARNODE_SDNOTIFY_H
#define FARNODE_SDNOTIFY_H

#include <stdint.h>

/*
 * Send state (e.g. "READY=1") to $NOTIFY_SOCKET. Returns 1 if sent, 0 when
 * NOTIFY_SOCKET is unset, or a negative errno.
 */
int sdnotify(const char *state);

/*
 * Watchdog interval from $WATCHDOG_USEC (honouring $WATCHDOG_PID), in ms;
 * 0 when no watchdog is requested.
 */
uint64_t sdnotify_watchdog_ms(void);

#endif
