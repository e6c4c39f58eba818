package edge

// SweepTrimBatch is the stats rollup rows per table that one run of the
// Cron Trigger's sweep deletes past their horizons (store.MinuteHorizon,
// store.HourHorizon), as the native collector's rollup trimming does in
// the background. It costs two D1 queries a run (one a table), which the
// Free plan's 50 a run leave room for beside DefaultSweepLimit visits.
// Runs come every minute, and a site adds one minute row a minute per
// event name or page URL seen in it: 2,000 a run (a few milliseconds of
// D1's time) keeps up with 2,000 URLs seen every minute, and clears a
// backlog of a million rows in under nine hours.
const SweepTrimBatch = 2000
