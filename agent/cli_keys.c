// SPDX-License-Identifier: Apache-2.0
/*
 * cli_keys: `farnode keygen gossip|signing` (local, no agent needed) and
 * `farnode keys list|install|use|remove` (the running agent's gossip
 * keyring over the control socket; changes apply live and persist).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "cli.h"
#include "crypto.h"

static const char keygen_usage[] =
    "Usage: farnode keygen gossip\n"
    "       farnode keygen signing --out DIR\n\n"
    "  gossip    print a new random 32-byte gossip key (base64) for\n"
    "            [gossip] key or `farnode keys install`\n"
    "  signing   write a new ECDSA P-256 keypair: DIR/signing.key (PEM,\n"
    "            mode 0600) and DIR/signing.pub (PEM); prints the key id\n"
    "  -h, --help  this help\n";

int cmd_keygen(int argc, char **argv)
{
	const char *out = NULL;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		fputs(keygen_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "gossip") == 0) {
		uint8_t key[CRYPTO_KEY_LEN];
		char b64[CRYPTO_KEY_B64_LEN];

		if (argc != 2) {
			return cli_usage_error(
			    "keygen", "unexpected argument '%s'", argv[2]);
		}
		if (crypto_keygen_gossip(key) != 0) {
			fprintf(stderr, "farnode keygen: no random bytes\n");
			return 1;
		}
		crypto_key_format_b64(key, b64);
		printf("%s\n", b64);
		mbedtls_platform_zeroize(key, sizeof(key));
		mbedtls_platform_zeroize(b64, sizeof(b64));
		return 0;
	}
	if (strcmp(argv[1], "signing") == 0) {
		char id[CRYPTO_SIGN_KEY_ID_LEN];
		int rc;

		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
				out = argv[++i];
			} else if (strncmp(argv[i], "--out=", 6) == 0) {
				out = argv[i] + 6;
			} else {
				return cli_usage_error(
				    "keygen", "unexpected argument '%s'",
				    argv[i]);
			}
		}
		if (out == NULL) {
			return cli_usage_error("keygen",
					       "signing needs --out DIR");
		}
		rc = crypto_keygen_signing(out, id);
		if (rc == -EEXIST) {
			fprintf(stderr,
				"farnode keygen: %s/signing.key or signing.pub "
				"already exists; not overwriting\n",
				out);
			return 1;
		}
		if (rc < 0) {
			fprintf(stderr, "farnode keygen: %s: %s\n", out,
				strerror(-rc));
			return 1;
		}
		printf("key id %s\nprivate key %s/signing.key (mode 0600)\n"
		       "public key  %s/signing.pub\n",
		       id, out, out);
		return 0;
	}
	return cli_usage_error("keygen", "unknown key type '%s'", argv[1]);
}

static const char keys_usage[] =
    "Usage: farnode keys list [--json]\n"
    "       farnode keys install KEY     (base64, from `farnode keygen "
    "gossip`)\n"
    "       farnode keys use KEY-ID\n"
    "       farnode keys remove KEY-ID\n\n"
    "Rotate the running agent's gossip keyring without a restart: "
    "install the\nnew key on every node, `use` it everywhere, then "
    "`remove` the old one.\nEvery installed key decrypts; the primary "
    "encrypts and cannot be removed.\n"
    "Options:\n" CLI_COMMON_HELP;

static void print_keys(const struct cli_common *c,
		       const Farnode__V1__KeysReply *r)
{
	if (c->json) {
		printf("{\"keys\":[");
		for (size_t i = 0; i < r->n_keys; i++) {
			const Farnode__V1__KeyInfo *k = r->keys[i];

			printf("%s{\"id\":%u,\"primary\":%s,\"fingerprint\":",
			       i ? "," : "", k->key_id,
			       k->primary ? "true" : "false");
			cli_json_str(stdout, k->fingerprint);
			printf(",\"sealed\":%" PRIu64 ",\"opened\":%" PRIu64
			       "}",
			       k->sealed, k->opened);
		}
		printf("],\"sealed\":%" PRIu64 ",\"opened\":%" PRIu64
		       ",\"rejected\":{\"oversized\":%" PRIu64
		       ",\"truncated\":%" PRIu64 ",\"version\":%" PRIu64
		       ",\"unknown_key\":%" PRIu64 ",\"auth\":%" PRIu64
		       ",\"replay\":%" PRIu64 ",\"stale\":%" PRIu64 "}}\n",
		       r->sealed, r->opened, r->rej_oversized, r->rej_truncated,
		       r->rej_version, r->rej_unknown_key, r->rej_auth,
		       r->rej_replay, r->rej_stale);
		return;
	}
	if (r->n_keys == 0) {
		printf("no gossip keys: gossip is not encrypted\n");
		return;
	}
	printf("%-4s %-8s %-17s %12s %12s\n", "ID", "PRIMARY", "FINGERPRINT",
	       "SEALED", "OPENED");
	for (size_t i = 0; i < r->n_keys; i++) {
		const Farnode__V1__KeyInfo *k = r->keys[i];

		printf("%-4u %-8s %-17s %12" PRIu64 " %12" PRIu64 "\n",
		       k->key_id, k->primary ? "yes" : "", k->fingerprint,
		       k->sealed, k->opened);
	}
	printf("rejected: oversized %" PRIu64 ", truncated %" PRIu64
	       ", version %" PRIu64 ", unknown key %" PRIu64 ", auth %" PRIu64
	       ", replay %" PRIu64 ", stale %" PRIu64 "\n",
	       r->rej_oversized, r->rej_truncated, r->rej_version,
	       r->rej_unknown_key, r->rej_auth, r->rej_replay, r->rej_stale);
}

static int parse_key_id(const char *s, uint32_t *id)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 255) {
		return -EINVAL;
	}
	*id = (uint32_t)v;
	return 0;
}

int cmd_keys(int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
						 {NULL, 0, NULL, 0}};
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__KeysRequest kr = FARNODE__V1__KEYS_REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	struct cli_common c = {0};
	const char *op;
	int opt, rc;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			fputs(keys_usage, stdout);
			return 0;
		}
		if (cli_common_opt(&c, opt, optarg) != 1) {
			return cli_usage_error("keys", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		fputs(keys_usage, stderr);
		return 2;
	}
	op = argv[optind++];
	if (strcmp(op, "list") == 0 && optind == argc) {
		kr.op = FARNODE__V1__KEYS_REQUEST__OP__OP_LIST;
	} else if (strcmp(op, "install") == 0 && optind + 1 == argc) {
		kr.op = FARNODE__V1__KEYS_REQUEST__OP__OP_INSTALL;
		kr.key = argv[optind];
	} else if ((strcmp(op, "use") == 0 || strcmp(op, "remove") == 0) &&
		   optind + 1 == argc) {
		kr.op = op[0] == 'u' ? FARNODE__V1__KEYS_REQUEST__OP__OP_USE
				     : FARNODE__V1__KEYS_REQUEST__OP__OP_REMOVE;
		if (parse_key_id(argv[optind], &kr.key_id) < 0) {
			return cli_usage_error(
			    "keys", "KEY-ID must be 0..255, not '%s'",
			    argv[optind]);
		}
	} else {
		return cli_usage_error("keys", "bad arguments for '%s'", op);
	}
	req.req_case = FARNODE__V1__REQUEST__REQ_KEYS;
	req.keys = &kr;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_KEYS) {
		rc = cli_reply_error("keys", rep);
	} else {
		if (kr.op == FARNODE__V1__KEYS_REQUEST__OP__OP_INSTALL &&
		    !c.json) {
			printf("installed key %u\n", rep->keys->key_id);
		}
		print_keys(&c, rep->keys);
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}
