package sqlstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/accessd/accessd/access"
)

// Benchmarks of group commit (groupcommit.go) on SQLite with
// synchronous=normal: Update transactions that each write one setting of
// their own, from 16×GOMAXPROCS goroutines at once (grouped into shared
// commits) and from one goroutine (every Update commits alone). Together the
// two ns/op show what grouping buys.

// benchUpdatePrefix begins the name of every setting these benchmarks write.
const benchUpdatePrefix = "bench-update-"

// benchUpdateKey names the setting the i-th Update writes.
func benchUpdateKey(i int64) string { return benchUpdatePrefix + strconv.FormatInt(i, 10) }

// benchPutSetting is one Update that writes one new setting.
func benchPutSetting(ctx context.Context, s *Store, i int64) error {
	return s.Update(ctx, func(tx access.Tx) error { return tx.PutSetting(benchUpdateKey(i), "v") })
}

// benchCheckSettings fails unless the store holds exactly want bench settings.
func benchCheckSettings(b *testing.B, s *Store, want int64) {
	b.Helper()
	var got int64
	err := s.View(context.Background(), func(atx access.Tx) error {
		t := atx.(*tx)
		return t.queryRow("SELECT count(*) FROM settings WHERE name LIKE '" + benchUpdatePrefix + "%'").Scan(&got)
	})
	if err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("%d settings written, want %d (one per Update)", got, want)
	}
}

func BenchmarkUpdateParallel(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16) // 16×GOMAXPROCS writers: 32 on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := benchPutSetting(ctx, s, n.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if n.Load() != int64(b.N) {
		b.Fatalf("%d Updates ran, want %d", n.Load(), b.N)
	}
	benchCheckSettings(b, s, int64(b.N))
}

func BenchmarkUpdateSerial(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	var i int64
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := benchPutSetting(ctx, s, i); err != nil {
			b.Fatal(err)
		}
	}
	benchCheckSettings(b, s, i)
	if i != int64(b.N) {
		b.Fatalf("%d Updates ran, want %d", i, b.N)
	}
}
