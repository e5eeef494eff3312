package feed

import (
	"errors"

	"github.com/segmentio/kafka-go"
)

// ErrClosed is returned by the methods of a Publisher, Group or
// PartitionReader after Close.
var ErrClosed = errors.New("feed: closed")

// ErrRebalanced is wrapped by Claim.Commit when the commit was refused
// because the claim's generation is over: the partition may already belong
// to another member, which resumes from the last accepted commit. A claim
// that returns an error wrapping ErrRebalanced does not fail Group.Run.
var ErrRebalanced = errors.New("feed: generation ended by a rebalance")

// ErrPartitionCount is wrapped by CreateTopic when the topic exists with a
// different number of partitions. Keys map to partitions by the partition
// count, so a topic cannot silently change it.
var ErrPartitionCount = errors.New("feed: topic exists with a different partition count")

// ErrUnknownTopic is returned by PartitionCount for a topic the brokers do
// not know (yet): a service started before its topic was created waits
// for it rather than failing.
var ErrUnknownTopic = errors.New("feed: topic does not exist")

// isRebalanceError reports the coordinator's answers to a commit (or heartbeat)
// from a generation that is no longer current.
func isRebalanceError(err error) bool {
	return errors.Is(err, kafka.RebalanceInProgress) ||
		errors.Is(err, kafka.IllegalGeneration) ||
		errors.Is(err, kafka.UnknownMemberId) ||
		errors.Is(err, kafka.FencedInstanceID)
}

// isRetriable reports whether err may go away by itself: a retriable Kafka
// error code, a group-membership error that rejoining cures, or a network
// error (anything that is not a Kafka error code). Kafka errors outside
// these (authorization, SASL, an invalid session timeout, an unsupported
// version) are configuration problems that retrying cannot fix.
func isRetriable(err error) bool {
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return true
	}
	return kerr.Temporary() || isRebalanceError(err)
}
