package telemetry

import (
	"context"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/prometheus/client_golang/prometheus"
)

// queueScrapeTimeout bounds the read a scrape makes, so that a slow
// database does not hold Prometheus until its own timeout.
const queueScrapeTimeout = 5 * time.Second

// queueCollector reads the work queue when Prometheus scrapes.
type queueCollector struct {
	stats func(ctx context.Context) (access.QueueStats, error)

	due, scheduled, oldestAge, waiting, timersDue *prometheus.Desc
}

func newQueueCollector(stats func(ctx context.Context) (access.QueueStats, error)) *queueCollector {
	return &queueCollector{
		stats: stats,
		due: prometheus.NewDesc("accessd_work_due",
			"Queued work that is due, claimed or not, by kind: the depth of the queue.", []string{"kind"}, nil),
		scheduled: prometheus.NewDesc("accessd_work_scheduled",
			"Queued work that falls due later, by kind: timers waiting for their time.", []string{"kind"}, nil),
		oldestAge: prometheus.NewDesc("accessd_work_oldest_due_age_seconds",
			"How long ago the oldest due work of each kind fell due; 0 when none is due. A growing age is a stuck queue.", []string{"kind"}, nil),
		waiting: prometheus.NewDesc("accessd_requests_waiting_for_callback",
			"Requests waiting for a custom extension's callback.", nil, nil),
		timersDue: prometheus.NewDesc("accessd_timers_due",
			"Queued work that is due and needs no outside call (all but callouts).", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.due, c.scheduled, c.oldestAge, c.waiting, c.timersDue} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueScrapeTimeout)
	defer cancel()
	q, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.due, err)
		return
	}
	for _, k := range q.Kinds {
		kind := string(k.Kind)
		age := 0.0
		if !k.OldestDue.IsZero() {
			age = max(q.At.Sub(k.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(k.Due), kind)
		ch <- prometheus.MustNewConstMetric(c.scheduled, prometheus.GaugeValue, float64(k.Later), kind)
		ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age, kind)
	}
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(q.WaitingForCallback))
	ch <- prometheus.MustNewConstMetric(c.timersDue, prometheus.GaugeValue, float64(q.TimersDue))
}
