// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_keys: control handler for `farnode keys`: list, install, use and
 * remove gossip keys on the running agent, persisted in the store. Never
 * sends key material back: the reply carries ids and fingerprints only.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "crypto_keys.h"
#include "ctl_handlers.h"

static int fill_reply(struct agent *a, Farnode__V1__KeysReply *r,
		      struct ctl_call *call)
{
	struct crypto_key_info info[CRYPTO_KEYS_MAX];
	struct crypto_stats st;
	size_t n = crypto_keyring_list(a->keyring, info, CRYPTO_KEYS_MAX);

	if (n > CRYPTO_KEYS_MAX) {
		n = CRYPTO_KEYS_MAX;
	}
	r->keys = ctl_call_alloc(call, sizeof(*r->keys) * (n ? n : 1));
	if (r->keys == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		Farnode__V1__KeyInfo *k = ctl_call_alloc(call, sizeof(*k));

		if (k == NULL) {
			return -ENOMEM;
		}
		farnode__v1__key_info__init(k);
		k->key_id = info[i].id;
		k->primary = info[i].primary;
		k->fingerprint = ctl_call_strdup(call, info[i].fingerprint);
		if (k->fingerprint == NULL) {
			return -ENOMEM;
		}
		k->sealed = info[i].sealed;
		k->opened = info[i].opened;
		r->keys[i] = k;
	}
	r->n_keys = n;
	crypto_keyring_stats(a->keyring, &st);
	r->sealed = st.sealed;
	r->opened = st.opened;
	r->rej_oversized = st.rej_oversized;
	r->rej_truncated = st.rej_truncated;
	r->rej_version = st.rej_version;
	r->rej_unknown_key = st.rej_unknown_key;
	r->rej_auth = st.rej_auth;
	r->rej_replay = st.rej_replay;
	r->rej_stale = st.rej_stale;
	return 0;
}

CTL_HANDLER(ctl_keys)
{
	const Farnode__V1__KeysRequest *k = req->keys;
	Farnode__V1__KeysReply *r = ctl_call_alloc(call, sizeof(*r));
	char why[160] = "";
	uint8_t id = 0;
	int rc = 0;

	if (r == NULL) {
		return -ENOMEM;
	}
	farnode__v1__keys_reply__init(r);
	if (a->keyring == NULL) {
		ctl_call_error(call, "the keyring is not running");
		return -ENOTCONN;
	}
	if ((k->op == FARNODE__V1__KEYS_REQUEST__OP__OP_USE ||
	     k->op == FARNODE__V1__KEYS_REQUEST__OP__OP_REMOVE) &&
	    k->key_id > 255) {
		ctl_call_error(call, "key id %u out of range 0..255",
			       k->key_id);
		return -EINVAL;
	}
	switch (k->op) {
	case FARNODE__V1__KEYS_REQUEST__OP__OP_LIST:
		break;
	case FARNODE__V1__KEYS_REQUEST__OP__OP_INSTALL:
		rc = crypto_keys_install(a->keyring, a->store,
					 k->key ? k->key : "", &id, why,
					 sizeof(why));
		r->key_id = id;
		break;
	case FARNODE__V1__KEYS_REQUEST__OP__OP_USE:
		rc = crypto_keys_use(a->keyring, a->store, (uint8_t)k->key_id,
				     why, sizeof(why));
		break;
	case FARNODE__V1__KEYS_REQUEST__OP__OP_REMOVE:
		rc = crypto_keys_remove(a->keyring, a->store,
					(uint8_t)k->key_id, why, sizeof(why));
		break;
	default:
		ctl_call_error(call, "unknown keys operation %d", (int)k->op);
		return -EINVAL;
	}
	if (rc < 0) {
		ctl_call_error(call, "%s", why[0] ? why : crypto_strerror(rc));
		return rc;
	}
	rc = fill_reply(a, r, call);
	if (rc < 0) {
		return rc;
	}
	rep->rep_case = FARNODE__V1__REPLY__REP_KEYS;
	rep->keys = r;
	return 0;
}
