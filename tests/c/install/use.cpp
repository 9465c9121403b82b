#include <rafka.hpp>

#include <iostream>

int main() {
    try {
        rafka::Producer p({{"bootstrap.servers", "127.0.0.1:1"}, {"no.such.setting", "1"}});
    } catch (const rafka::Error &e) {
        std::cout << "rafka.hpp: " << e.what() << "\n";
        return 0;
    }
    return 1;
}
