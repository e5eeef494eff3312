// Package feed is the Kafka tap feed: publishing taps to a topic keyed by
// card, and consuming the topic partition by partition in a consumer
// group, with github.com/segmentio/kafka-go.
//
// # Messages
//
// A tap message's key is the tap's card_id. Its value is one tap as a
// JSON object in the ingest JSON-lines schema (docs/tap-format.md), or a
// batch of taps as JSON lines: objects separated by "\n", all of whose
// cards map to the message's partition, the key being the first tap's
// card. Publisher writes batches without a final newline; consumers split
// values with NextLine (or decode them with Decoder), which also accepts a
// trailing newline, CRLF and blank lines, as other producers may write
// them. A tap that does not decode is rejected alone, never its batch.
//
// A control message has no key and a record header
//
//	tapsettle-control: close-day
//
// with the value YYYY-MM-DD. Publisher.CloseDay sends one to every
// partition, after every tap already published, to tell each consumer
// that the authority's feed for that settlement day is complete. Record
// timestamps are the producer's clock and play no part in settlement: a
// tap's day comes from its own time field.
//
// # Partitioning
//
// The partition of a message is murmur2 of its key, modulo the partition
// count, as computed by Kafka's Java client (its default for keyed
// records), kafka-go's Murmur2Balancer and PartitionOf. All of a card's
// taps therefore share a partition, which is what lets one consumer own a
// card's fare state. Other producers must use the same function: with kcat
// or any librdkafka client, set
//
//	-X partitioner=murmur2_random
//
// since librdkafka's default (consistent_random, CRC32) puts cards in
// other partitions. TestKcatProducer checks that kcat so configured and
// kafka-go agree. Changing a live topic's partition count moves cards
// between partitions, like in any keyed Kafka topic; do not.
//
// # Delivery
//
// Delivery is at least once, in both directions. Publisher retries failed
// produce requests and its callers republish on error; a consumer resumes
// from its group's last committed offset after a restart or a rebalance
// and reads again what it had not committed. The engine settles a
// repeated tap_id once, which is what makes this safe. Within a
// partition, and so for each card, messages keep the order in which they
// were published (per Publish call, and across calls that do not
// overlap). Producers must not be transactional: transaction markers are
// skipped, but records of aborted transactions would be read.
//
// # Consuming
//
// A Group joins a consumer group (kafka-go's ConsumerGroup) and Run
// calls a claim function per assigned partition and generation. A claim
// opens a PartitionReader at Claim.Committed, fetches messages in
// batches, and calls Claim.Commit with the next offset to read once the
// taps before it are durably settled. PartitionReader fetches in the
// background, ahead of the consumer, with kafka-go's Client.Fetch: it
// copies each record's key and value from kafka-go's pooled pages into
// the caller's reused buffers, so reading allocates nothing per message
// (kafka-go allocates per fetch response and per record batch). In
// BenchmarkKafkaGoFetchPaths it reads several times faster than a
// kafka-go partition Reader and about twice as fast as Conn.ReadBatch,
// both of which allocate a key and a value for every message. A reader
// whose offset is no longer retained fails with kafka.OffsetOutOfRange
// rather than skipping ahead, since skipping would lose taps silently.
//
// # Publishing
//
// Publisher wraps a kafka-go Writer set up to avoid that library's known
// pitfalls: RequiredAcks all (the default, none, loses writes silently);
// a BatchTimeout of 2 ms (the default, 1 s, delays every synchronous
// write); BatchBytes at the broker's default message.max.bytes and a
// BatchSize derived from it (kafka-go preallocates BatchSize messages per
// batch); synchronous writes of a whole slice of taps per call, never
// Async (which drops errors). kafka-go looks up the topic's cached
// metadata once per message, so TapsPerMessage > 1, which also cuts
// per-record overhead on the broker and in both clients, is the way to
// publish fast.
//
// # Embedded broker
//
// Package feed/embedded runs franz-go's kfake, a Kafka wire-protocol broker
// kept in memory, on a loopback port: for the demo, the benchmarks and the
// tests, never for production. Its minimum session timeout is lowered to
// 100 ms so that tests see rebalances within a second.
package feed
