package ingest

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/tapsettle/tapsettle/transit"
)

func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func cpuPerOp(n int, f func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := 1e18
	for rep := 0; rep < 40; rep++ {
		t0 := threadCPU()
		for i := 0; i < n; i++ {
			f()
		}
		d := float64(threadCPU()-t0) / float64(n)
		if d < best {
			best = d
		}
	}
	return best
}

func TestCPUMicro(t *testing.T) {
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		data := benchData(t, format, 1<<15)
		src := bytes.NewReader(data)
		r, _ := NewReader("b", src, Options{})
		buf := make([]transit.Tap, 256)
		ns := cpuPerOp(200, func() {
			_, err := r.Read(buf)
			if err == io.EOF {
				src.Reset(data)
				r.Reset("b", src)
			}
		}) / 256
		fmt.Printf("%v read: %.1f ns/tap (cpu)\n", format, ns)
	}
	data := benchData(t, FormatCSV, 64)
	lines := bytes.Split(data, []byte("\n"))
	var d csvDecoder
	d.parseHeader("x", 1, lines[0])
	lines = lines[1:65]
	var rec record
	var ft fault
	var tp transit.Tap
	i := 0
	fmt.Printf("split: %.1f\n", cpuPerOp(1<<17, func() { i++; d.decode(lines[i&63], &rec, &ft) }))
	fmt.Printf("fill: %.1f\n", cpuPerOp(1<<17, func() { rec.fill(&tp, &ft) }))
	tm := []byte("2025-03-01T08:40:12.123456+08:00")
	fmt.Printf("time: %.1f\n", cpuPerOp(1<<17, func() { parseTime(tm) }))
	id := []byte("0f8fad5b-d9cb-469f-a165-70867728950e")
	fmt.Printf("storeID(36): %.1f\n", cpuPerOp(1<<17, func() { storeID(tp.ID[:], id) }))
	fmt.Printf("Set(36): %.1f\n", cpuPerOp(1<<17, func() { tp.ID.Set(id) }))
}
