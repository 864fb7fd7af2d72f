// Package guard is berth's Docker authorization plugin: the engine asks it
// about every API request, and it judges the ones that create privilege
// (container create, exec create) with the same policy rules as a deploy.
// It fails closed: a judged request whose body it cannot see or read is
// denied, because an authorization plugin that allows what it cannot read
// is how CVE-2024-41110 bypassed them.
package guard
