package agent

// Engagement offers (docs/engagement-browser.md): the collector's rules invite a
// visitor with a notification frame of kind "offer". The tracker's glue
// gives such a frame the Message type TypeOffer, with the Notification's
// ID set to the offerId and its Data holding the whole frame as JSON
// (offerId, ruleId, channel, data, expiresAt), so that the loader
// (web/loader/gt.js) can hand the page the offer as it came. Offers reach
// only the listeners of OpOffers ( _gt.push(['subscribe', 'offer', fn]) ),
// not those of plain notifications: a page that shows every notification
// must not show an invitation it never asked for.
//
// The visitor's answer, _gt.push(['offer', offerId, 'accepted' |
// 'declined']), is checked and made into an EngagementAccepted or
// EngagementDeclined event by the loader, which keeps the offers it has
// seen: the agent sends it like any other event. Keeping that book in
// JavaScript costs the WebAssembly download nothing.

// TypeOffer is the Message type the glue gives a notification frame of
// kind "offer". It is no frame type of the protocol.
const TypeOffer = "offer"
