package main

// Statistics for bench: every figure bench prints is the median of several
// runs, shown with the spread of those runs, so one run disturbed by another
// process on a small machine moves the spread, not the figure.
//
// A comparison of two rows is never the ratio of their medians. The host
// moves this machine's vCPUs around: the same C binary runs 1.9 ns per
// message in one minute and 15 ns in the next, which moves every row of
// that minute alike. So bench runs the rows in rounds, each round running
// every row once, back to back; a ratio is taken within each round, and a
// target is the median of those per-round ratios, with their min–max as
// its spread.

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

// roundRatios returns a[i]/b[i] for each round i of two figures measured
// in the same rounds: NaN for a round where either side has no figure (a
// failed run) or b is zero. A round disturbed by another process disturbs
// both sides of its ratio alike.
func roundRatios(a, b []float64) []float64 {
	n := min(len(a), len(b))
	r := make([]float64, n)
	for i := 0; i < n; i++ {
		r[i] = math.NaN()
		if b[i] != 0 && !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			r[i] = a[i] / b[i]
		}
	}
	return r
}

// pairedRatio summarizes the per-round ratios a[i]/b[i]: their median and
// their spread (min–max). Rounds missing on either side are left out.
func pairedRatio(a, b []float64) summary {
	return summarize(roundRatios(a, b))
}

// roundOrder returns the order in which round (from 0) runs the rows whose
// indexes order lists: as listed in even rounds, reversed in odd ones. Rows
// next to each other in order stay next to each other in every round, and
// of two such rows each runs first in half of the rounds, so neither gains
// from always following the other (warm caches, a calmer minute).
func roundOrder(order []int, round int) []int {
	o := slices.Clone(order)
	if round%2 == 1 {
		slices.Reverse(o)
	}
	return o
}

// figures is a list of per-round values whose NaN (no figure in that
// round) is null in JSON.
type figures []float64

func (f figures) MarshalJSON() ([]byte, error) {
	v := make([]*float64, len(f))
	for i, x := range f {
		v[i] = jsonFloat(x)
	}
	return json.Marshal(v)
}

func (f *figures) UnmarshalJSON(b []byte) error {
	var v []*float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = make(figures, len(v))
	for i, p := range v {
		(*f)[i] = math.NaN()
		if p != nil {
			(*f)[i] = *p
		}
	}
	return nil
}

// jsonNumber is a float64 whose NaN (not measured) is null in JSON.
type jsonNumber float64

func (x jsonNumber) MarshalJSON() ([]byte, error) { return json.Marshal(jsonFloat(float64(x))) }

func (x *jsonNumber) UnmarshalJSON(b []byte) error {
	var p *float64
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*x = jsonNumber(math.NaN())
	if p != nil {
		*x = jsonNumber(*p)
	}
	return nil
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
