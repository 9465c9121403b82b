// examples/cpp/producer.cpp: one record per stdin line, each delivery printed.
// Usage: producer <bootstrap.servers> <topic>
#include <iostream>
#include <string>

#include "rafka.hpp"

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " <bootstrap.servers> <topic>\n";
        return 1;
    }
    try {
        rafka::Producer producer({{"bootstrap.servers", argv[1]}});
        std::string line;
        while (std::getline(std::cin, line)) {
            if (line.empty()) continue;
            rafka::Record record;
            record.topic = argv[2];
            record.value = line;
            producer.send(record, [](const rafka::DeliveryReport &r) {
                if (r.ok())
                    std::cerr << "% delivered to " << r.metadata.topic << " [" << r.metadata.partition << "] at offset "
                              << r.metadata.offset << "\n";
                else
                    std::cerr << "% delivery failed: " << rafka_err_name(r.error) << " (" << r.message << ")\n";
            });
            producer.poll(0);
        }
        producer.flush(10000);
        producer.close(10000);
    } catch (const rafka::Error &e) {
        std::cerr << "% " << e.name() << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
