package changes

import "github.com/batchql/batchql/storage"

// coalescer is an ordered set of keys: add appends a key, or moves it to
// the back when it is already there (its latest change is the newest); take
// removes keys from the front. Both are O(1) a key; memory is one node per
// distinct key, recycled. Each key keeps the commit of its latest change.
//
// A Go map never shrinks, so a subscriber that once had Buffer (4096)
// records waiting would keep a map and free nodes for all of them (~0.4
// MiB) for good; take lets both go when it empties a coalescer that held
// more than keepNodes keys.
type coalescer struct {
	nodes      map[storage.Key]*node
	head, tail *node
	free       *node
	peak       int // the most keys held since init
}

// keepNodes is the most keys whose map and nodes an empty coalescer keeps.
const keepNodes = 64

type node struct {
	Change
	prev, next *node
}

func (c *coalescer) init() {
	c.nodes = map[storage.Key]*node{}
	c.head, c.tail, c.free = nil, nil, nil
	c.peak = 0
}

func (c *coalescer) len() int { return len(c.nodes) }

// add adds k, changed by commit seq.
func (c *coalescer) add(k storage.Key, seq uint64) {
	if n, ok := c.nodes[k]; ok {
		n.Seq = seq
		if n == c.tail {
			return
		}
		c.unlink(n)
		c.push(n)
		return
	}
	n := c.free
	if n != nil {
		c.free = n.next
		*n = node{Change: Change{k, seq}}
	} else {
		n = &node{Change: Change{k, seq}}
	}
	c.nodes[k] = n
	c.push(n)
	c.peak = max(c.peak, len(c.nodes))
}

func (c *coalescer) push(n *node) {
	n.prev, n.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = n
	} else {
		c.head = n
	}
	c.tail = n
}

func (c *coalescer) unlink(n *node) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		c.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		c.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

// take appends up to max changes from the front to dst and removes them.
func (c *coalescer) take(dst []Change, max int) []Change {
	for i := 0; i < max && c.head != nil; i++ {
		n := c.head
		c.unlink(n)
		delete(c.nodes, n.Key)
		dst = append(dst, n.Change)
		*n = node{next: c.free}
		c.free = n
	}
	if c.head == nil && c.peak > keepNodes {
		c.init()
	}
	return dst
}
