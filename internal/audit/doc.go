// Package audit judges what runs on the hosts. This first part audits
// containers: every container on every host, berth's or not, read back by
// inspect and judged by the same policy rules as a deploy.
package audit
