#include <stdio.h>
#include <string.h>

#include <rafka.h>

int main(void) {
    char err[128];
    rafka_conf_t *c = rafka_conf_new();
    int ok = rafka_conf_set(c, "linger.ms", "5", err, sizeof err) == RAFKA_CONF_OK &&
             rafka_version() == RAFKA_VERSION && strcmp(rafka_version_str(), RAFKA_VERSION_STR) == 0;
    rafka_conf_free(c);
    printf("librafka %s: %s\n", rafka_version_str(), ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
