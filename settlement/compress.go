package settlement

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Every data file is zstd. The output must be byte-identical from run to
// run, so the encoder settings are fixed here and nowhere else: one level,
// one goroutine per encoder (the block split of a concurrent encoder is
// deterministic too, but one goroutine removes the question), frame
// checksums on (a second line of defence under the manifest's SHA-256).
// Changing any of them changes every file's bytes and must bump the
// manifest version.
var encoderOptions = []zstd.EOption{
	zstd.WithEncoderLevel(zstd.SpeedDefault),
	zstd.WithEncoderConcurrency(1),
	zstd.WithEncoderCRC(true),
	zstd.WithZeroFrames(true),
}

// encoders reuses encoders across files: building one allocates its
// match tables. Get/Put pairs live in compress only.
var encoders = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, encoderOptions...)
	if err != nil {
		panic(fmt.Sprintf("settlement: zstd encoder options: %v", err)) // fixed options: cannot fail
	}
	return e
}}

// compress appends src as one zstd frame to dst.
func compress(dst, src []byte) []byte {
	e := encoders.Get().(*zstd.Encoder)
	dst = e.EncodeAll(src, dst)
	encoders.Put(e)
	return dst
}

// maxDecoderWindow bounds the window a stream may ask the decoder for. Our
// encoder's windows are at most 8 MiB; a larger request is damage or an
// attack on memory.
const maxDecoderWindow = 64 << 20

// newDecoder returns a streaming decoder over r that checks frame
// checksums. The caller must Close it.
func newDecoder(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.WithDecoderMaxMemory(maxDecoderWindow),
	)
}
