package main

// Statistics for bench: every figure bench prints is the median of several
// runs, shown with the spread of those runs, so one run disturbed by another
// process on a small machine moves the spread, not the figure.

import (
	"encoding/json"
	"math"
	"slices"
)

// summary is a figure over several runs: its median and the smallest and
// largest run.
type summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"` // runs
}

// summarize returns the median, minimum and maximum of xs. NaN values (runs
// that produced no figure) are left out; with none left, every field is NaN
// and N is 0.
func summarize(xs []float64) summary {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	return summary{Median: median(v), Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// median returns the median of sorted, non-empty xs: the middle value, or
// the mean of the two middle values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted, non-empty
// samples by the nearest-rank method: the smallest sample that at least p%
// of the samples do not exceed. It never interpolates, so every percentile
// is a latency that was measured.
func percentile[T int64 | float64](sorted []T, p float64) T {
	// The epsilon keeps 99.9% of 1000 at rank 999: in binary floating
	// point, 99.9/100*1000 is a hair above 999.
	rank := int(math.Ceil(p/100*float64(len(sorted)) - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// halfRange is the spread of s as ± a fraction of its median: half the
// distance between the slowest and the fastest run.
func (s summary) halfRange() float64 {
	if s.N == 0 || s.Median == 0 {
		return math.NaN()
	}
	return (s.Max - s.Min) / 2 / math.Abs(s.Median)
}

// scale returns s with every value multiplied by f (msgs/s to MB/s).
func (s summary) scale(f float64) summary {
	return summary{Median: s.Median * f, Min: s.Min * f, Max: s.Max * f, N: s.N}
}

// pairedRatio summarizes the run-by-run ratios a[i]/b[i] of two figures
// measured in the same rounds: a round disturbed by another process
// disturbs both sides of its ratio alike. Runs missing on either side are
// skipped.
func pairedRatio(a, b []float64) summary {
	n := min(len(a), len(b))
	r := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if b[i] != 0 && !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			r = append(r, a[i]/b[i])
		}
	}
	return summarize(r)
}

// MarshalJSON writes a figure that could not be measured (NaN) as null.
func (s summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{jsonFloat(s.Median), jsonFloat(s.Min), jsonFloat(s.Max), s.N})
}

// UnmarshalJSON reads null back as NaN.
func (s *summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	nan := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*s = summary{Median: nan(j.Median), Min: nan(j.Min), Max: nan(j.Max), N: j.N}
	return nil
}

type summaryJSON struct {
	Median *float64 `json:"median"`
	Min    *float64 `json:"min"`
	Max    *float64 `json:"max"`
	N      int      `json:"n"`
}

func jsonFloat(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}
