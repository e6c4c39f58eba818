package useragent

import (
	"strings"
	"sync"

	"github.com/visitrack/visitrack/collector/enrich"
)

// cacheSize is how many headers one generation of the cache holds. Real
// traffic repeats a few thousand headers (browser, version, OS and device
// model) and has a long tail of one-offs: replaying a public sample of
// 75,000 requests to a video site (20,000 distinct headers; the source of
// testdata/browsers.txt), two generations of 8,192 find 71% of headers
// cached, where 73% is the most any cache can (one that held 4,096 and
// then started over found 48%). At most 2*cacheSize entries of at most
// maxUserAgent bytes each are kept: about 13 MB at worst, 7 MB for real
// headers.
const cacheSize = 8192

// agentCache remembers what each header was classified as, so that the
// crawler list, a regular expression of over a thousand patterns (about
// 0.1 ms for an ordinary header, over a millisecond for 512 bytes of
// junk), runs once per distinct header rather than once per visit.
//
// It keeps two generations: when the newer one is full it becomes the
// older and the older is dropped, and a header found in the older moves
// to the newer. A header still in use thus survives the turn, which a
// cache that starts over when full loses (a flood of one-off headers
// would then cost every common header the crawler list again), while
// memory stays bounded whatever the traffic.
type agentCache struct {
	mu       sync.Mutex
	size     int
	cur, old map[string]cachedAgent
}

// cachedAgent keeps its own key, so that moving it to the newer
// generation reuses the copy the cache owns.
type cachedAgent struct {
	key   string
	agent enrich.Agent
}

func newAgentCache(size int) *agentCache {
	return &agentCache{size: size, cur: map[string]cachedAgent{}, old: map[string]cachedAgent{}}
}

// get returns what ua was classified as, if the cache remembers it.
func (c *agentCache) get(ua string) (enrich.Agent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[ua]; ok {
		return e.agent, true
	}
	e, ok := c.old[ua]
	if ok {
		delete(c.old, ua)
		c.insert(e)
	}
	return e.agent, ok
}

// put remembers a. The key is copied: ua is often a slice of the request's
// header (enrich.Clean cuts without copying), and keeping it would keep
// the whole header, up to the server's limit of a megabyte, alive.
func (c *agentCache) put(ua string, a enrich.Agent) {
	e := cachedAgent{key: strings.Clone(ua), agent: a}
	c.mu.Lock()
	c.insert(e)
	c.mu.Unlock()
}

// insert adds e to the newer generation, turning the generations first
// if it is full. c.mu is held.
func (c *agentCache) insert(e cachedAgent) {
	if _, ok := c.cur[e.key]; !ok && len(c.cur) >= c.size {
		c.old, c.cur = c.cur, map[string]cachedAgent{}
	}
	c.cur[e.key] = e
}
