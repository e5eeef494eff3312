package state_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tapsettle/tapsettle/state"
)

// A partition's life: load, commit checkpoints with the next Kafka offset,
// and a later owner resuming from what was committed.
func ExampleLocal() {
	dir, err := os.MkdirTemp("", "state-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	owner, err := state.NewLocal(dir, state.LocalOptions{})
	if err != nil {
		log.Fatal(err)
	}
	snap, err := owner.Load(ctx, 7)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("fresh partition at seq", snap.Seq)

	cp := &state.Checkpoint{
		Seq:     snap.Seq + 1,
		Offset:  1042, // the next Kafka offset to consume
		Cards:   []state.KV{{Key: []byte("card:330200:0001"), Value: []byte("balance=1200")}},
		Appends: []state.Append{{List: "taps:2025-03-03", Blob: []byte("tap-0001")}},
	}
	if err := owner.Commit(ctx, 7, cp); err != nil {
		log.Fatal(err)
	}
	// Hand the partition over, as in a rebalance.
	if err := owner.Close(); err != nil {
		log.Fatal(err)
	}

	next, err := state.NewLocal(dir, state.LocalOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer next.Close()
	snap, err = next.Load(ctx, 7)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("resumed at seq %d, offset %d, card %s, %d tap\n",
		snap.Seq, snap.Offset, snap.Cards["card:330200:0001"], len(snap.Lists["taps:2025-03-03"]))
	// Output:
	// fresh partition at seq 0
	// resumed at seq 1, offset 1042, card balance=1200, 1 tap
}
