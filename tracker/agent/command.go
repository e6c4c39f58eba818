package agent

// Op is a command's operation. A number, not a string: the agent's
// dispatch on it costs the download about 1 KB brotli less.
type Op int

// Operations of Command.Op; OpNone is no command.
const (
	OpNone Op = iota
	OpConfig
	OpEvent
	OpPage
	OpConsent
	OpIDs
	OpStats
	OpUpdate
	OpSubscribe
	OpGetVisitorData
	OpDecorate // resolves with a handoff token ("" for none)
	OpNotifications
	OpOffers // Command.Listener hears of engagement offers (offer.go)
)

// opNames returns the ops' names in the loader's flat commands
// (web/loader/gt.js), by Op: an array, so each caller has its own copy.
func opNames() [OpOffers + 1]string {
	return [...]string{"", "config", "event", "page", "consent", "getIDs", "stats", "visitorData.update", "visitorData.subscribe", "visitorData.get", "decorate", "subscribe.notification", "subscribe.offer"}
}

// ParseOp returns the Op of a name in the loader's flat commands; 0 (no
// op) for an unknown name.
func ParseOp(name string) Op {
	for i, n := range opNames() {
		if n == name && n != "" {
			return Op(i)
		}
	}
	return 0
}

// String returns the op's name in the loader's flat commands; "" for no
// op or an unknown one.
func (o Op) String() string {
	if n := opNames(); o >= 0 && int(o) < len(n) {
		return n[o]
	}
	return ""
}

// Command is one site command, decoded from its JavaScript form by the
// tracker's glue. The agent reads only the fields of its Op.
type Command struct {
	_      noEq
	Op     Op
	Config ConfigPatch

	// OpEvent: the wire name and data, a JSON object. The loader
	// translates Genesys's forms (sendSignIn is SignIn).
	Name string
	Data string

	// OpPage: empty means the document's current URL and title.
	URL, Title string

	// OpConsent: Consent is the visitor's answer; Data its source
	// (SourceAPI when empty, SourceConsentMode, or SourceKeep for a
	// Consent Mode update that says nothing of analytics_storage).
	Consent bool

	// OpUpdate: the namespace and its new value as JSON.
	Namespace, Value string

	Subscriber Subscriber           // OpSubscribe
	Listener   NotificationListener // OpNotifications, OpOffers
	Reply      Reply                // may be nil
}

// Transports of Config.Transport.
const (
	TransportAuto      = "auto"
	TransportWebSocket = "websocket"
	TransportHTTP      = "http"
)

// Config is the tracker's configuration (docs/tracker.md#configuration).
type Config struct {
	_              noEq
	Collector      string // base URL, e.g. https://collector.example.com
	Transport      string
	RequireConsent bool
	RespectGPC     bool
	AutoRecognize  bool
	CookieDomain   string
	VisitTimeoutMS int64
	Cookies        string // CookiesAuto, CookiesServer or CookiesScript
	// Language, when set (Genesys's languageCode), is the visit's language
	// in VisitStarted, in place of the browser's.
	Language string
}

// DefaultConfig is the configuration before any config command.
func DefaultConfig() Config {
	return Config{Transport: TransportAuto, AutoRecognize: true, RespectGPC: true, VisitTimeoutMS: 30 * 60 * 1000, Cookies: CookiesAuto}
}

// ConfigPatch holds the fields a config command sets; nil fields keep
// their value.
type ConfigPatch struct {
	Collector, Transport, CookieDomain, Cookies, Language *string
	RequireConsent, RespectGPC, AutoRecognize             *bool
	VisitTimeoutMinutes                                   *float64
}

func (c *Config) apply(p ConfigPatch) {
	if p.Collector != nil {
		c.Collector = trimSlash(*p.Collector)
	}
	if p.Transport != nil && (*p.Transport == TransportAuto || *p.Transport == TransportWebSocket || *p.Transport == TransportHTTP) {
		c.Transport = *p.Transport
	}
	if p.CookieDomain != nil {
		c.CookieDomain = *p.CookieDomain
	}
	if p.Cookies != nil && (*p.Cookies == CookiesAuto || *p.Cookies == CookiesServer || *p.Cookies == CookiesScript) {
		c.Cookies = *p.Cookies
	}
	if p.Language != nil {
		c.Language = *p.Language
	}
	if p.RequireConsent != nil {
		c.RequireConsent = *p.RequireConsent
	}
	if p.RespectGPC != nil {
		c.RespectGPC = *p.RespectGPC
	}
	if p.AutoRecognize != nil {
		c.AutoRecognize = *p.AutoRecognize
	}
	if p.VisitTimeoutMinutes != nil && *p.VisitTimeoutMinutes > 0 {
		// At least one second: the cookie counts whole seconds.
		c.VisitTimeoutMS = max(int64(*p.VisitTimeoutMinutes*60000), 1000)
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// wsURL turns the collector's http(s) base URL into its WebSocket URL.
func wsURL(base string) string {
	switch {
	case len(base) >= 8 && base[:8] == "https://":
		return "wss://" + base[8:] + "/v1/ws"
	case len(base) >= 7 && base[:7] == "http://":
		return "ws://" + base[7:] + "/v1/ws"
	}
	return base + "/v1/ws"
}
