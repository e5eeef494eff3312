package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/tapsettle/tapsettle/stream"
)

// watchPolicies makes run reload its fare policies
// (stream.Service.ReloadPolicies) on SIGHUP and, when policies.dir is
// set, when the directory's policy files change, until ctx ends or stop
// is called; stop waits for both to end. A directory that cannot be
// watched is logged, not fatal: SIGHUP still reloads.
//
// Without it SIGHUP would end the process, its default action.
func watchPolicies(ctx context.Context, e *env, svc *stream.Service) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	dir := e.cfg.Policies.Dir
	var watched <-chan struct{}
	if dir != "" {
		done, err := svc.WatchPolicies(ctx, dir, stream.DefaultReloadDebounce)
		if err != nil {
			e.log.Warn("the policy directory is not watched: after a change, reload the policies with SIGHUP", "dir", dir, "err", err)
		} else {
			watched = done
			e.log.Info("watching the policy directory: a change to its policy files reloads them (so does SIGHUP)", "dir", dir)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = svc.ReloadPolicies(dir, "SIGHUP") // logged and counted
			}
		}
	})
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
		if watched != nil {
			<-watched
		}
	}
}
