// Prints, for each hex-encoded key in a file, the partition Kafka's Java producer assigns it:
// Utils.toPositive(Utils.murmur2(key)) % partitions. Run with the kafka-clients jar on the classpath.
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.common.utils.Utils;

public class JavaPartition {
    public static void main(String[] args) throws Exception {
        int partitions = Integer.parseInt(args[1]);
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            byte[] key = new byte[line.length() / 2];
            for (int i = 0; i < key.length; i++) {
                key[i] = (byte) Integer.parseInt(line.substring(2 * i, 2 * i + 2), 16);
            }
            System.out.println(Utils.toPositive(Utils.murmur2(key)) % partitions);
        }
    }
}
