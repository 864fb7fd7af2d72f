// Package build builds the images of compose services with build: for a
// deploy, through the Engine API of the first host a service runs on, and
// copies them to its other hosts (image save, then load), so a service is
// built once per deploy. It owns the build context (the tar the builder
// receives, .dockerignore applied), the tags (the image's name, and its
// name with the source revision), the OCI revision and creation labels,
// the rule that an image built from the same context and settings is not
// built again, and the choice between BuildKit and the classic builder.
// It does not deploy: internal/deploy runs what it returns.
package build
