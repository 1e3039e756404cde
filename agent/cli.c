// SPDX-License-Identifier: Apache-2.0
/*
 * cli: shared client plumbing — option handling, socket discovery and the
 * blocking request/reply exchange with the agent.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "ctl.h"

#define DEFAULT_CONFIG "/etc/farnode/farnode.conf"

int cli_common_opt(struct cli_common *c, int opt, const char *arg)
{
	switch (opt) {
	case 'c':
		c->config = arg;
		return 1;
	case CLI_OPT_DATA_DIR:
		c->data_dir = arg;
		return 1;
	case CLI_OPT_SOCKET:
		c->socket = arg;
		return 1;
	case CLI_OPT_JSON:
		c->json = true;
		return 1;
	case 'v':
		c->verbose++;
		return 1;
	default:
		return 0;
	}
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "farnode %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'farnode %s --help'.\n", cmd);
	return 2;
}

/* Resolve the socket path; returns 0, or 2 on a bad config file. */
static int socket_path(const struct cli_common *c, char *out, size_t len)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];
	char dd[CONFIG_STR_MAX];

	if (c->socket != NULL) {
		snprintf(out, len, "%s", c->socket);
		return 0;
	}
	config_defaults(&cfg);
	const char *path = c->config;
	if (path == NULL && c->data_dir == NULL &&
	    access(DEFAULT_CONFIG, R_OK) == 0) {
		path = DEFAULT_CONFIG;
	}
	if (path != NULL && config_load(&cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "farnode: %s\n", err);
		return 2;
	}
	agent_paths(&cfg, c->data_dir, dd, sizeof(dd), out, len);
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		if (r == 0) {
			return -ECONNRESET;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int connect_agent(const struct cli_common *c, char *path, size_t plen)
{
	struct sockaddr_un sa;
	int rc = socket_path(c, path, plen);
	if (rc != 0) {
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "farnode: control socket path too long: %s\n",
			path);
		return -ENAMETOOLONG;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED) {
			fprintf(stderr,
				"farnode: no agent running (control socket "
				"%s: %s)\n",
				path, strerror(e));
		} else if (e == EACCES) {
			fprintf(stderr,
				"farnode: %s: permission denied (run as root "
				"or as the agent's user)\n",
				path);
		} else {
			fprintf(stderr, "farnode: %s: %s\n", path, strerror(e));
		}
		close(fd);
		return -e;
	}
	return fd;
}

static Farnode__V1__Reply *recv_reply(int fd, const char *path)
{
	uint8_t hdr[4];
	int rc = read_all(fd, hdr, 4);
	if (rc != 0) {
		fprintf(stderr, "farnode: %s: agent closed the connection (%s)\n",
			path, strerror(-rc));
		return NULL;
	}
	uint32_t n = ctl_frame_get_len(hdr);
	if (n > CTL_FRAME_MAX) {
		fprintf(stderr, "farnode: %s: reply frame too large (%u)\n",
			path, n);
		return NULL;
	}
	uint8_t *buf = malloc(n ? n : 1);
	if (buf == NULL) {
		return NULL;
	}
	rc = read_all(fd, buf, n);
	Farnode__V1__Reply *rep = NULL;
	if (rc == 0) {
		rep = farnode__v1__reply__unpack(NULL, n, buf);
		if (rep == NULL) {
			fprintf(stderr, "farnode: %s: malformed reply\n", path);
		}
	} else {
		fprintf(stderr, "farnode: %s: %s\n", path, strerror(-rc));
	}
	free(buf);
	return rep;
}

static int send_request(int fd, const Farnode__V1__Request *req,
			const char *path)
{
	size_t n = farnode__v1__request__get_packed_size(req);
	if (n > CTL_FRAME_MAX) {
		fprintf(stderr, "farnode: request too large (%zu bytes)\n", n);
		return -EMSGSIZE;
	}
	uint8_t *buf = malloc(4 + n);
	if (buf == NULL) {
		return -ENOMEM;
	}
	ctl_frame_put_len(buf, (uint32_t)n);
	farnode__v1__request__pack(req, buf + 4);
	int rc = write_all(fd, buf, 4 + n);
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "farnode: %s: %s\n", path, strerror(-rc));
	}
	return rc;
}

int cli_call(const struct cli_common *c, const Farnode__V1__Request *req,
	     Farnode__V1__Reply **rep)
{
	char path[CONFIG_STR_MAX];
	*rep = NULL;
	int fd = connect_agent(c, path, sizeof(path));
	if (fd < 0) {
		return fd == -EINVAL ? 2 : 1;
	}
	struct timeval tv = {.tv_sec = 60};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send_request(fd, req, path) != 0) {
		close(fd);
		return 1;
	}
	*rep = recv_reply(fd, path);
	close(fd);
	return *rep != NULL ? 0 : 1;
}

int cli_call_stream(const struct cli_common *c, const Farnode__V1__Request *req,
		    cli_reply_fn on_reply, void *ud)
{
	char path[CONFIG_STR_MAX];
	int fd = connect_agent(c, path, sizeof(path));
	if (fd < 0) {
		return fd == -EINVAL ? 2 : 1;
	}
	if (send_request(fd, req, path) != 0) {
		close(fd);
		return 1;
	}
	int result = 0;
	for (;;) {
		Farnode__V1__Reply *rep = recv_reply(fd, path);
		if (rep == NULL) {
			result = 1;
			break;
		}
		bool more = rep->more;
		int stop = on_reply(rep, ud);
		farnode__v1__reply__free_unpacked(rep, NULL);
		if (stop != 0 || !more) {
			break;
		}
	}
	close(fd);
	return result;
}

int cli_reply_error(const char *cmd, const Farnode__V1__Reply *rep)
{
	fprintf(stderr, "farnode %s: %s\n", cmd,
		rep->error && rep->error[0] ? rep->error
					    : strerror(-rep->code));
	return 1;
}

void cli_json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

void cli_fmt_duration(char *out, size_t len, unsigned long long ms)
{
	unsigned long long s = ms / 1000;
	if (ms < 1000) {
		snprintf(out, len, "%llums", ms);
	} else if (s < 60) {
		snprintf(out, len, "%llu.%01llus", s, (ms % 1000) / 100);
	} else if (s < 3600) {
		snprintf(out, len, "%llum%llus", s / 60, s % 60);
	} else if (s < 86400) {
		snprintf(out, len, "%lluh%llum", s / 3600, (s % 3600) / 60);
	} else {
		snprintf(out, len, "%llud%lluh", s / 86400, (s % 86400) / 3600);
	}
}
