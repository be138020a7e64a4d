package main

// The line framing that send writes and tail -lines (and -0) reads back.
//
// send sends each line of its input without the separator that ends it (a
// newline, or a NUL byte with -0), so no message it makes from a line holds
// a separator. That leaves one input it could not tell apart by its
// messages alone: one whose last line has no separator ("a\nb" and "a\nb\n"
// would both be "a", "b"). send marks that last line by putting the
// separator it lacks in front of it ("\nb"), and tail -lines prints a
// message that starts with the separator without it and without one after
// it. So tail -lines gives back send's input byte for byte, and a consumer
// that knows nothing of this sees an extra separator only on the last line
// of an input that did not end with one. The mark travels in the message
// itself, so it survives competing MPMC consumers, tail -n and several
// senders on one ring.

import "bytes"

// unterminatedLine is the message send makes of a last line that no
// separator ends (line is not empty). See the framing above.
func unterminatedLine(sep byte, line []byte) []byte {
	return append([]byte{sep}, line...)
}

// appendLine writes msg to w as the line it came from: msg and the
// separator, or, for a message that unterminatedLine made, the line alone.
func appendLine(w *bytes.Buffer, sep byte, msg []byte) {
	if len(msg) > 0 && msg[0] == sep {
		w.Write(msg[1:])
		return
	}
	w.Write(msg)
	w.WriteByte(sep)
}
