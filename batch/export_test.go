package batch

// SetAfterPartition sets a hook that s calls with its spill folder once
// its taps are partitioned, before they are priced.
func SetAfterPartition(s *Settle, f func(dir string)) { s.afterPartition = f }
