package issuance

import (
	"bytes"
	"encoding/pem"
	"fmt"
)

// pemText is a walk over PEM text: its blocks in order, and where text
// that is not PEM stands (pem.Decode alone skips it, so a field could carry
// more than it shows). Each caller decides what it tolerates: an upload
// refuses stray text and anything but the blocks it asks for; a CA's chain
// and a stored record take the certificates and skip the rest.
type pemText struct {
	Blocks []*pem.Block
	// StrayBefore is the 1-based number of the first block that has text
	// before it which is not PEM; 0 when none has.
	StrayBefore int
	// StrayAfter: text follows the last block.
	StrayAfter bool
}

func walkPEM(b []byte) pemText {
	var out pemText
	rest := b
	for {
		blk, after := pem.Decode(rest)
		if blk == nil {
			break
		}
		if i := bytes.Index(rest, []byte("-----BEGIN")); out.StrayBefore == 0 && (i < 0 || len(bytes.TrimSpace(rest[:i])) > 0) {
			out.StrayBefore = len(out.Blocks) + 1
		}
		out.Blocks = append(out.Blocks, blk)
		rest = after
	}
	out.StrayAfter = len(out.Blocks) > 0 && len(bytes.TrimSpace(rest)) > 0
	return out
}

// certDERs are the DER bytes of the CERTIFICATE blocks.
func (p pemText) certDERs() [][]byte {
	var out [][]byte
	for _, b := range p.Blocks {
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	return out
}

// pemBlocks is every PEM block of an upload's field, refusing any text
// before, between or after them.
func pemBlocks(field, s string) ([]*pem.Block, error) {
	w := walkPEM([]byte(s))
	switch {
	case w.StrayBefore > 0:
		return nil, fmt.Errorf("%s: text before PEM block %d is not PEM", field, w.StrayBefore)
	case w.StrayAfter:
		return nil, fmt.Errorf("%s: text after the last PEM block is not PEM", field)
	}
	return w.Blocks, nil
}
