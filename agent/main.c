// SPDX-License-Identifier: Apache-2.0
/* farnode: entry point (placeholder until the CLI lands). */
#include <stdio.h>
int main(void)
{
	puts("farnode " FARNODE_VERSION);
	return 0;
}
