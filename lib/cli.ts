#!/usr/bin/env node
// The `stompd` command. The broker itself is not built yet: say so plainly.
process.stderr.write('stompd: the broker is not implemented yet — this checkout has the STOMP frame codec only (lib/frame/).\n')
process.exitCode = 1
