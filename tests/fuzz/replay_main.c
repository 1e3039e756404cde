// SPDX-License-Identifier: Apache-2.0
/*
 * replay_main: runs a libFuzzer target's LLVMFuzzerTestOneInput over every
 * file in the directories (or files) given, without libFuzzer, so corpora
 * replay under gcc inside `make test`. Prints one TAP line. A missing path
 * or an unreadable file fails; a crash fails (the process dies).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* libFuzzer's default -max_len is far below this; larger files are bugs. */
#define REPLAY_FILE_MAX (1u << 20)

static int replay_file(const char *path, unsigned long *count)
{
	struct stat st;
	uint8_t *buf;
	size_t got;
	FILE *f;

	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > REPLAY_FILE_MAX) {
		fprintf(stderr, "replay: %s: unreadable or over %u bytes\n",
			path, REPLAY_FILE_MAX);
		fclose(f);
		return -1;
	}
	/* exact-size heap copy so ASan/valgrind catch any over-read */
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (got != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	(*count)++;
	return 0;
}

static int replay_path(const char *path, unsigned long *count)
{
	struct dirent **names = NULL;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		return replay_file(path, count);
	}
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];

		if (names[i]->d_name[0] != '.' && rc == 0) {
			snprintf(sub, sizeof(sub), "%s/%s", path,
				 names[i]->d_name);
			rc = replay_path(sub, count);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int rc = 0;

	if (LLVMFuzzerInitialize != NULL) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
		printf("not ok 1 - replay: no corpus given\n");
		return 1;
	}
	for (int i = 1; i < argc && rc == 0; i++) {
		rc = replay_path(argv[i], &count);
	}
	if (rc != 0) {
		printf("not ok 1 - replay stopped after %lu inputs\n", count);
		return 1;
	}
	printf("ok 1 - replay %lu inputs\n", count);
	return 0;
}
