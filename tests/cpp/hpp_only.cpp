// Compiled with -Wall -Wextra -Wpedantic -Werror as C++17 by ctest.
#include "rafka.hpp"

int main() { return rafka_version() == RAFKA_VERSION ? 0 : 1; }
