// Package visitordata holds the rules of Visitrack's shareable visitor data,
// written once for the collector and for anything else that must judge a
// document the way the collector does: what a valid document is, how a
// merge patch changes one namespace, and how a visitor's document merges
// into an identity's at SignIn.
//
// The rules (docs/visitor-data.md#namespaces-and-limits):
//
//   - A document is a JSON object whose keys are namespaces. Each namespace
//     is owned by one system (a CRM, a signature service, the browser).
//   - A namespace name matches ^[a-z][a-z0-9_]{0,63}$ (protocol.ValidNamespace).
//   - A document has at most 32 namespaces, is at most 64 KiB as stored
//     (compact JSON), and nests at most 16 levels deep (protocol.MaxDepth,
//     the same bound as events: the document travels to browsers).
//   - Every namespace's value is a JSON object. The contract asks for "only
//     JSON objects at the top level"; we read that as: the document is an object
//     and so is each namespace. It makes an RFC 7396 merge patch of one
//     namespace mean what its owner expects (keys merge, null removes a key),
//     and it leaves room in every namespace for fields added later. A
//     namespace is removed by deleting it, never by setting it to null.
//
// Documents are kept canonical: compact, object keys sorted, numbers as
// written, no HTML escaping. Equal content therefore has equal bytes, which
// is how a whole-document PUT learns which namespaces it changes.
//
// Weight: this package imports encoding/json (RFC 7396's merge is ten
// lines here: see mergeValue). The tracker (WebAssembly, downloaded by
// every visitor) must not import it; it checks names and sizes with
// package protocol alone and lets the collector judge the rest.
package visitordata
