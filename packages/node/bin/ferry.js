#!/usr/bin/env node
// The `ferry` command is dist/bin.js; this stub exists before any build, so that package
// managers can link the command when they install the workspace.
import '../dist/bin.js'
