// Package dynamo is the store.Store of stepline on AWS: run history, run numbers and stage
// locks in one DynamoDB table, together with the items only the AWS runtime needs (task
// tokens of waiting actions and the registry of pipeline files). Schema is the table's one
// definition; tests create their tables from it and the SAM and CDK templates copy it.
//
// # Key layout
//
// Every item has a partition key pk, a sort key sk and a type attribute naming its kind:
//
//	item            pk                       sk              other attributes
//	──────────────  ───────────────────────  ──────────────  ─────────────────────────────────────────
//	run             RUN#<first char of id>   <run id>        body (B: gzip of the JSON store.Record),
//	                                                         pipeline, order, succeeded (the run's
//	                                                         scope key for a succeeded run,
//	                                                         "unfinished" for a run not done, absent
//	                                                         otherwise), seq, status, started, updated
//	run counter     SCOPE#<counter key>      SEQ             seq (N, the last number handed out)
//	last succeeded  SCOPE#<scope key>        SUCCEEDED       run (the scope's newest succeeded run;
//	                                                         absent: none has), at (its order)
//	newest run      SCOPE#<scope key>        LATEST          run (the scope's newest run), order (its
//	                                                         order), type "latest": Latest
//	listing         LIST#<run id>            L0, L1, L2      succeeded (store.ListingKey of the ended
//	                                                         run's pipeline with its status, branch,
//	                                                         both), order (the run's); no type
//	run number of   KEY#<counter key>#<event SEQ             seq (N), expires (N: Unix seconds, TTL,
//	an event key    key>                                     30 days): SeqFor's memory
//	stage lane      SCOPE#<scope key>        LANE#<stage>    lane (S: JSON engine.Lane),
//	                                                         version (S: random, changed by every write)
//	task token      TOKEN#<run id>           TASK#<task>     token, run, task, expires (N: Unix seconds, TTL)
//	mark            MARK#<key>               MARK            expires (N: Unix seconds, TTL): what the notify
//	                                                         function already did (a message sent, a
//	                                                         token problem reported)
//	deploy wait     WAIT#<provider>:<key>    WAIT            token, run, task, wait (S: JSON deploy.Wait),
//	                                                         expires (N: Unix seconds, TTL)
//	pipeline file   REPO#<repository>        BRANCH#<branch> file (B: gzip of the file), commit, repo,
//	                                                         branch
//	registration    REGISTRY#<provider>#     DEFAULT         file (B: gzip; absent when problem is set),
//	                <repository>                             provider, repo, branch, commit, hook, problem,
//	                                                         pushed (N: Unix ms, orders copies), images,
//	                                                         buckets, schedules, retired_images,
//	                                                         retired_buckets, retired_schedules (L of S)
//	image index     IMAGE#<ECR repository>   REGISTRY#<provider>#<repository>
//	                                                         provider, repo
//	bucket index    BUCKET#<S3 bucket>       REGISTRY#<provider>#<repository>
//	                                                         provider, repo
//
// Three global secondary indexes, all KEYS_ONLY and all sparse (an item without the index's
// key attributes is not in it; only runs, newest-run pointers and listing items carry order):
//
//	index        partition key      sort key   serves
//	───────────  ─────────────────  ─────────  ─────────────────────────────────────────────
//	pipeline     pipeline           order      ListRuns of one pipeline, newest first
//	succeeded    succeeded          order      succeeded runs by scope (LastSucceeded without a pointer),
//	                                           the unfinished runs (ListRuns with Filter.Unfinished),
//	                                           and a pipeline's ended runs of a branch, a status or both
//	                                           (listing items: ListRuns with Filter.Branch or Status)
//	all          type               order      "run": ListRuns of every pipeline, newest first;
//	                                           "latest": every scope's newest run (Latest)
//
// order is the zero-padded start time and run number followed by the id, so it sorts as
// ListRuns orders (oldest first; queries read it backwards), and the run an index entry names
// is the end of its order, whether the entry is the run, a pointer or a listing item. A page
// after a run (Filter.After) is the same query with order < that run's.
//
// Locks, run numbers and rollback targets belong to a scope (store.Scope: repository,
// pipeline, and environment or branch), never to a pipeline name alone, since one table
// serves every repository. A scope key is store.Scope.Key: each field as its length, a colon
// and its text ("6:github8:acme/api3:api4:prod0:0:"), so names holding #, / or : never make
// two scopes one key. The counter key is the key of store.Scope.Counter (repository and
// pipeline only): run numbers are per repository and pipeline, and store.RunID tags ids with
// the repository so they stay unique in the table.
//
// # Costs and consistency
//
// GetRun by exact id is one strongly consistent GetItem, and the only look-up the functions
// make. FindRun, the command line's prefix look-up (store.Finder), is one strongly
// consistent Query of the prefix's first character's partition with begins_with(sk, prefix)
// and Limit store.MaxMatches+1: it reads a bounded number of runs whatever the history's
// size, never a Scan. Sharding runs by their id's first character spreads them over as many
// partitions as there are first characters, while keeping any prefix inside one partition.
//
// LastSucceeded, which the trigger asks at every start and the advance function before a
// rollback, is two strongly consistent GetItems: the scope's last-succeeded pointer, which
// PutRun of a succeeded run moves forward (a conditional PutItem written before the run, so
// a pointer never lags behind a run recorded as succeeded), then the run it names, checked.
// Only a scope with no pointer yet (none of its runs succeeded since the pointer was
// introduced) or one whose run was rewritten queries the succeeded index, once: the answer,
// "none" included, becomes the pointer.
//
// PutRun is two PutItems: the run (atomic), then its scope's newest-run pointer, conditional
// on naming no newer run, so Latest reads one run per scope, never the history; three for a
// succeeded run (its last-succeeded pointer first); an ended run adds its listing items, one
// PutItem each (up to three), so a filtered page reads its runs and no other. A pointer or
// listing item is written after the run and again at every write of it, so a failure between
// the two is mended by the caller's retry and never names a run that is not there. Runs that
// ended before the listings existed are in them once they are next written: a filtered page
// of an older table misses them (the unfiltered pages list them). The indexes are KEYS_ONLY, so rewriting a run that has not
// moved (same start, seq and status: most writes, one per engine step) writes no index
// entry, and a record is stored once rather than once per index. The price is a second
// round trip on reads: ListRuns and LastSucceeded query an index for keys, then read the
// records themselves with strongly consistent BatchGetItem/GetItem, so a record returned is
// never stale. Index membership and order are eventually consistent (DynamoDB updates
// global secondary indexes within a fraction of a second): a run written a moment ago may
// be missing from a list, or a run just succeeded may not be LastSucceeded yet.
//
// The all index keeps every run under one partition key. It is written when a run is created
// and when it starts, so its write ceiling (about 1,000 writes a second per partition) is far
// above any CI system's rate of new runs.
//
// Stage lanes are read, changed by engine.Lane and written back with a condition on their
// version, retried a bounded number of times when another writer got there first. The
// version is random rather than a counter because free lanes are deleted: a counter would
// start again at one and a stale writer could match it (the ABA problem).
//
// The pipeline registry holds one registration per repository: the default branch's pipeline
// file, written by the trigger with a condition on pushed so a late or retried older push
// cannot bring an older file back (ErrSuperseded). An image push finds the registrations
// whose image triggers name its ECR repository with one Query of that repository's IMAGE#
// partition and a BatchGetItem of the entries, never a Scan; an S3 object creation finds its
// bucket's entries the same way through the BUCKET# partition. Index items are written
// before their registration and removed after it, so a failure half-way leaves at worst an
// index item whose registration no longer lists the image or bucket, which
// ImageRegistrations and BucketRegistrations skip.
//
// Items over DynamoDB's 400 KB limit are refused with ErrTooLarge before anything is sent.
// Run bodies and pipeline files are gzip-compressed, so a record would have to be several
// megabytes of JSON (a state is about 35 KB for 500 actions) to reach the limit.
package dynamo
