package engine

import (
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// kitTrace follows BuildKit's progress as dockerd forwards it: each
// "moby.buildkit.trace" message is one moby.buildkit.v1.StatusResponse
// protobuf. Only four fields of it matter here, so they are read with
// protowire rather than by importing BuildKit (a large module) for its
// generated types:
//
//	StatusResponse { repeated Vertex vertexes = 1; repeated VertexLog logs = 3; }
//	Vertex         { string digest = 1; string name = 3; bool cached = 4;
//	                 Timestamp started = 5; Timestamp completed = 6; string error = 7; }
//	VertexLog      { string vertex = 1; bytes msg = 4; }
type kitTrace struct {
	emit    func(BuildEvent)
	names   map[string]string   // vertex digest -> name
	started map[string]bool     // steps already announced
	partial map[string]string   // output not yet ended by a newline
	output  map[string][]string // last output lines per vertex
	errVtx  string              // the vertex that failed
	errMsg  string
}

func newKitTrace(emit func(BuildEvent)) *kitTrace {
	return &kitTrace{emit: emit, names: map[string]string{}, started: map[string]bool{},
		partial: map[string]string{}, output: map[string][]string{}}
}

type kitVertex struct {
	digest, name, err string
	cached, started   bool
}

// add takes one StatusResponse. A message that does not parse is
// skipped: progress is a courtesy, the build's result comes separately.
func (k *kitTrace) add(b []byte) {
	forEachField(b, func(num protowire.Number, v []byte) {
		switch num {
		case 1:
			k.vertex(parseVertex(v))
		case 3:
			var digest string
			var msg []byte
			forEachField(v, func(n protowire.Number, f []byte) {
				switch n {
				case 1:
					digest = string(f)
				case 4:
					msg = f
				}
			})
			k.log(digest, string(msg))
		}
	})
}

func parseVertex(b []byte) kitVertex {
	var v kitVertex
	forEachField(b, func(n protowire.Number, f []byte) {
		switch n {
		case 1:
			v.digest = string(f)
		case 3:
			v.name = string(f)
		case 4:
			v.cached = len(f) > 0 && f[0] != 0
		case 5:
			v.started = true
		case 7:
			v.err = string(f)
		}
	})
	return v
}

func (k *kitTrace) vertex(v kitVertex) {
	if v.name != "" {
		k.names[v.digest] = v.name
	}
	if (v.started || v.cached) && !k.started[v.digest] {
		k.started[v.digest] = true
		k.emit(BuildEvent{Step: k.names[v.digest], Cached: v.cached})
	}
	if v.err != "" && k.errVtx == "" {
		k.errVtx, k.errMsg = v.digest, v.err
	}
}

func (k *kitTrace) log(digest, msg string) {
	text := k.partial[digest] + msg
	lines := strings.Split(text, "\n")
	k.partial[digest] = lines[len(lines)-1]
	for _, line := range lines[:len(lines)-1] {
		line = strings.TrimRight(line, "\r")
		k.output[digest] = appendBounded(k.output[digest], line)
		k.emit(BuildEvent{Step: k.names[digest], Line: line})
	}
}

// failed returns the step that failed and its last output lines.
func (k *kitTrace) failed() (string, []string, bool) {
	if k.errVtx == "" {
		return "", nil, false
	}
	out := k.output[k.errVtx]
	if p := k.partial[k.errVtx]; p != "" {
		out = appendBounded(out, p)
	}
	return k.names[k.errVtx], out, true
}

// forEachField calls fn with every length-delimited field of a protobuf
// message (and with varint fields as one byte: 0 or 1, which is all a
// bool needs); other wire types are skipped.
func forEachField(b []byte, fn func(protowire.Number, []byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			fn(num, v)
			b = b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return
			}
			if v != 0 {
				fn(num, []byte{1})
			} else {
				fn(num, []byte{0})
			}
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return
			}
			b = b[m:]
		}
	}
}
