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

func TestPairedRatio(t *testing.T) {
	a := []float64{10, 20, 30, math.NaN()}
	b := []float64{5, 5, 10, 1}
	r := pairedRatio(a, b) // 2, 4, 3; the NaN run is skipped
	assert.Equal(t, 3, r.N)
	assert.Equal(t, 3.0, r.Median)
	assert.Equal(t, 2.0, r.Min)
	assert.Equal(t, 4.0, r.Max)

	assert.Zero(t, pairedRatio([]float64{1}, []float64{0}).N)
	assert.Equal(t, 1, pairedRatio([]float64{1, 2}, []float64{1}).N)
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
}
