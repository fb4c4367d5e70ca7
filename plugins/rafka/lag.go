package rafkaplugin

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/sdk"
)

// lagTimeout bounds one Lag call: it runs on the reader's goroutine, between
// two reads.
const lagTimeout = 5 * time.Second

// lagCountLimit bounds the fallback count of a partition's undelivered
// entries (XRANGE pages); beyond it the lag is reported unknown.
const lagCountLimit = 100_000

// Lag implements sdk.LagReporter: for each partition the reader reads, the
// entries of its stream not yet delivered to the consumer group. Redis 7
// tells it (XINFO GROUPS, field lag); where it cannot (entries deleted from
// the middle of the stream, or an older Redis), the entries after the
// group's last-delivered id are counted. Entries delivered and read ahead
// but not yet emitted count as delivered. Finished partitions
// (available_now) are not reported.
func (r *reader) Lag(ctx context.Context) (map[string]int64, error) {
	if len(r.splits) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lagTimeout)
	defer cancel()
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.XInfoGroupsCmd, len(r.splits))
	for i, s := range r.splits {
		cmds[i] = pipe.XInfoGroups(ctx, s.key)
	}
	// Errors are per command (a stream that vanished); read them below.
	_, _ = pipe.Exec(ctx)
	out := make(map[string]int64, len(r.splits))
	for i, s := range r.splits {
		groups, err := cmds[i].Result()
		if err != nil {
			return nil, fmt.Errorf("rafka reader %d: XINFO GROUPS %s: %w", r.ctx.ReaderID(), s.key, err)
		}
		for _, g := range groups {
			if g.Name != r.cfg.Group {
				continue
			}
			lag := g.Lag
			if lag < 0 {
				if lag, err = r.countAfter(ctx, s.key, g.LastDeliveredID); err != nil {
					return nil, err
				}
			}
			if lag >= 0 {
				out[s.sp.SplitID()] = lag
			}
			break
		}
	}
	return out, nil
}

// countAfter counts a stream's entries after id, up to lagCountLimit (-1
// past it: unknown).
func (r *reader) countAfter(ctx context.Context, key, id string) (int64, error) {
	if id == "" || id == "0-0" {
		n, err := r.rdb.XLen(ctx, key).Result()
		if err != nil {
			return 0, fmt.Errorf("rafka reader %d: XLEN %s: %w", r.ctx.ReaderID(), key, err)
		}
		return n, nil
	}
	const page = 1000
	var n int64
	for start := "(" + id; n < lagCountLimit; {
		msgs, err := r.rdb.XRangeN(ctx, key, start, "+", page).Result()
		if err != nil {
			return 0, fmt.Errorf("rafka reader %d: XRANGE %s after %s: %w", r.ctx.ReaderID(), key, id, err)
		}
		n += int64(len(msgs))
		if len(msgs) < page {
			return n, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return -1, nil
}

var _ sdk.LagReporter = (*reader)(nil)
