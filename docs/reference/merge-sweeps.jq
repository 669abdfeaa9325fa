# Merges `sovlab sweep --json` outputs (one per shard) into one summary.
def addh: reduce .[] as $h ({}; reduce ($h | to_entries[]) as $e (.; .[$e.key] += $e.value))
  | to_entries | sort_by(.key | (tonumber? // .)) | from_entries;
def addc: {sum: (map(.sum) | add), histogram: (map(.histogram) | addh)};
. as $all | .[0] as $f
| {format: $f.format, version: $f.version, scenario: $f.scenario,
   seeds: {from: (map(.seeds.from) | min), to: (map(.seeds.to) | max)},
   shard: null,
   runs: (map(.runs) | add),
   expect: {met: (map(.expect.met) | add), not_met: (map(.expect.not_met) | add),
            seeds: (map(.expect.seeds) | add | sort)},
   invariants: ($f.invariants | with_entries(.key as $k | .value =
       {broken: ($all | map(.invariants[$k].broken) | add),
        seeds: ($all | map(.invariants[$k].seeds) | add | sort)})),
   panicked: (map(.panicked) | add | sort)}
| if $f.write then .write = {
      committed: ($all | map(.write.committed) | addc),
      aborted: ($all | map(.write.aborted) | addc),
      unfinished: ($all | map(.write.unfinished) | addc),
      latency_ms: {p50: ($all | map(.write.latency_ms.p50) | addh),
                   p99: ($all | map(.write.latency_ms.p99) | addh),
                   max: ($all | map(.write.latency_ms.max) | addh)}} else . end
| if $f.read then .read = {
      complete: ($all | map(.read.complete) | addc),
      partial: ($all | map(.read.partial) | addc),
      failed: ($all | map(.read.failed) | addc)} else . end
| .stopped = ($all | map(.stopped) | addh)
| .messages = ($all | map(.messages) | {sent: (map(.sent) | add), delivered: (map(.delivered) | add),
                                         dropped: (map(.dropped) | add), duplicated: (map(.duplicated) | add)})
| .events = ($all | map(.events) | add)
