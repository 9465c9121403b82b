/* Compiled with -Wall -Wextra -Wpedantic -Werror as C99, C11, C++11 and C++17 by ctest. */
#include "rafka.h"

int main(void) {
    rafka_conf_t *conf = rafka_conf_new();
    rafka_conf_free(conf);
    return rafka_version() == RAFKA_VERSION ? 0 : 1;
}
