package batch

// SetAfterPartition sets a hook that s calls with its spill folder once
// its taps are partitioned, before they are priced.
func SetAfterPartition(s *Settle, f func(dir string)) { s.afterPartition = f }

// SetGroupShards makes s price groups of partitions with n shards (at
// most its own), whatever its budget's plan says.
func SetGroupShards(s *Settle, n int) { s.groupShards = n }
