package main

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		in             []float64
		med, min, max  float64
		n              int
		half, halfWant float64
	}{
		{in: []float64{3}, med: 3, min: 3, max: 3, n: 1},
		{in: []float64{5, 1, 3}, med: 3, min: 1, max: 5, n: 3},
		{in: []float64{4, 1, 3, 2}, med: 2.5, min: 1, max: 4, n: 4},
		{in: []float64{nan, 2, nan, 4}, med: 3, min: 2, max: 4, n: 2},
	}
	for _, tt := range tests {
		s := summarize(tt.in)
		assert.Equal(t, tt.med, s.Median, "%v", tt.in)
		assert.Equal(t, tt.min, s.Min, "%v", tt.in)
		assert.Equal(t, tt.max, s.Max, "%v", tt.in)
		assert.Equal(t, tt.n, s.N, "%v", tt.in)
	}
	in := []float64{5, 1, 3}
	summarize(in)
	assert.Equal(t, []float64{5, 1, 3}, in, "summarize must not reorder its argument")

	empty := summarize([]float64{nan})
	assert.Zero(t, empty.N)
	assert.True(t, math.IsNaN(empty.Median))
	assert.True(t, math.IsNaN(empty.halfRange()))

	assert.InDelta(t, 0.2, summary{Median: 10, Min: 9, Max: 13, N: 3}.halfRange(), 1e-12)
	assert.Equal(t, summary{Median: 20, Min: 18, Max: 26, N: 3}, summary{Median: 10, Min: 9, Max: 13, N: 3}.scale(2))
}

func TestPercentile(t *testing.T) {
	s := make([]int64, 1000)
	for i := range s {
		s[i] = int64(i + 1) // 1..1000
	}
	assert.Equal(t, int64(500), percentile(s, 50))
	assert.Equal(t, int64(990), percentile(s, 99))
	assert.Equal(t, int64(999), percentile(s, 99.9))
	assert.Equal(t, int64(1000), percentile(s, 100))
	assert.Equal(t, int64(1), percentile(s, 0.01))

	one := []int64{7}
	assert.Equal(t, int64(7), percentile(one, 50))
	assert.Equal(t, int64(7), percentile(one, 99.9))

	// Nearest rank: p99.9 of 100 samples is the largest, p50 of 4 the second.
	assert.Equal(t, 100.0, percentile([]float64{1, 2, 3, 100}, 99.9))
	assert.Equal(t, 2.0, percentile([]float64{1, 2, 3, 100}, 50))
}

// A target is the median of the per-round ratios, with their min–max as
// its spread: never the ratio of the medians, which pairs a row's fast
// minute with another row's slow one.
func TestPairedRatio(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name          string
		a, b          []float64
		rounds        []float64 // the per-round ratios; NaN where a round has no ratio
		med, min, max float64
		n             int
	}{
		{name: "one round", a: []float64{10}, b: []float64{5}, rounds: []float64{2}, med: 2, min: 2, max: 2, n: 1},
		{name: "odd rounds", a: []float64{10, 20, 30}, b: []float64{5, 5, 10}, rounds: []float64{2, 4, 3}, med: 3, min: 2, max: 4, n: 3},
		{name: "even rounds: mean of the middle two", a: []float64{1, 2, 3, 4}, b: []float64{1, 1, 1, 1}, rounds: []float64{1, 2, 3, 4}, med: 2.5, min: 1, max: 4, n: 4},
		{
			// The machine runs at a quarter of its speed in round 2; both
			// rows slow down alike and the ratio holds, where pairing
			// any run with any other would spread it from 0.5× to 8×.
			name: "a slow round moves both sides", a: []float64{100, 25, 100}, b: []float64{50, 12.5, 50},
			rounds: []float64{2, 2, 2}, med: 2, min: 2, max: 2, n: 3,
		},
		{
			name: "median of ratios, not ratio of medians", a: []float64{100, 50, 25}, b: []float64{400, 50, 50},
			rounds: []float64{0.25, 1, 0.5}, med: 0.5, min: 0.25, max: 1, n: 3,
		},
		{name: "a failed run leaves its round out", a: []float64{10, nan, 30}, b: []float64{5, 5, 10}, rounds: []float64{2, nan, 3}, med: 2.5, min: 2, max: 3, n: 2},
		{name: "on either side", a: []float64{10, 20}, b: []float64{nan, 10}, rounds: []float64{nan, 2}, med: 2, min: 2, max: 2, n: 1},
		{name: "a zero divisor is no ratio", a: []float64{1}, b: []float64{0}, rounds: []float64{nan}, med: nan, min: nan, max: nan},
		{name: "rounds beyond the shorter side", a: []float64{1, 2}, b: []float64{1}, rounds: []float64{1}, med: 1, min: 1, max: 1, n: 1},
		{name: "no rounds", rounds: []float64{}, med: nan, min: nan, max: nan},
	}
	same := func(want, got float64) bool { return want == got || math.IsNaN(want) && math.IsNaN(got) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rounds := roundRatios(tt.a, tt.b)
			require.Len(t, rounds, len(tt.rounds))
			for i := range rounds {
				assert.True(t, same(tt.rounds[i], rounds[i]), "round %d: got %v, want %v", i+1, rounds[i], tt.rounds[i])
			}
			s := pairedRatio(tt.a, tt.b)
			assert.True(t, same(tt.med, s.Median), "median %v, want %v", s.Median, tt.med)
			assert.True(t, same(tt.min, s.Min), "min %v, want %v", s.Min, tt.min)
			assert.True(t, same(tt.max, s.Max), "max %v, want %v", s.Max, tt.max)
			assert.Equal(t, tt.n, s.N)
		})
	}
}

// Rounds run forward, then backward: a compared pair stays side by side,
// and each of the pair runs first in half of the rounds.
func TestRoundOrder(t *testing.T) {
	order := []int{2, 0, 1}
	tests := []struct {
		round int
		want  []int
	}{
		{0, []int{2, 0, 1}},
		{1, []int{1, 0, 2}},
		{2, []int{2, 0, 1}},
		{3, []int{1, 0, 2}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, roundOrder(order, tt.round), "round %d", tt.round)
	}
	assert.Equal(t, []int{2, 0, 1}, order, "roundOrder must not reorder its argument")
	assert.Empty(t, roundOrder(nil, 1))
}

func TestSummaryJSON(t *testing.T) {
	b, err := json.Marshal(summary{Median: 2, Min: 1, Max: 3, N: 3})
	require.NoError(t, err)
	assert.JSONEq(t, `{"median":2,"min":1,"max":3,"n":3}`, string(b))

	b, err = json.Marshal(summarize(nil))
	require.NoError(t, err)
	assert.JSONEq(t, `{"median":null,"min":null,"max":null,"n":0}`, string(b))

	var s summary
	require.NoError(t, json.Unmarshal(b, &s))
	assert.True(t, math.IsNaN(s.Median))
	require.NoError(t, json.Unmarshal([]byte(`{"median":2,"min":1,"max":3,"n":3}`), &s))
	assert.Equal(t, summary{Median: 2, Min: 1, Max: 3, N: 3}, s)

	b, err = json.Marshal(figures{0.5, math.NaN(), 2})
	require.NoError(t, err)
	assert.JSONEq(t, `[0.5,null,2]`, string(b))
	var f figures
	require.NoError(t, json.Unmarshal(b, &f))
	require.Len(t, f, 3)
	assert.Equal(t, 0.5, f[0])
	assert.True(t, math.IsNaN(f[1]))

	var probe struct {
		P jsonNumber `json:"p"`
	}
	b, err = json.Marshal(struct{ P jsonNumber }{jsonNumber(math.NaN())})
	require.NoError(t, err)
	assert.JSONEq(t, `{"P":null}`, string(b))
	require.NoError(t, json.Unmarshal([]byte(`{"p":null}`), &probe))
	assert.True(t, math.IsNaN(float64(probe.P)))
	require.NoError(t, json.Unmarshal([]byte(`{"p":2.5}`), &probe))
	assert.Equal(t, jsonNumber(2.5), probe.P)
}
