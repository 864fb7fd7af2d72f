// Package release owns berth's release model: the labels and names that make
// a container a release of an app's service, the history read back from those
// labels, and the per-app deploy lock. State lives in Docker, not in a file
// berth could lose.
package release
