// Package convert owns the meaning of Dockerfile instructions: it turns the
// parsed stages into an llb graph for the target stage and the image config
// (Env, Cmd, Labels, …, and one history entry per instruction, as BuildKit
// writes them). One file per instruction family.
//
// Only the stages the target needs are converted, so an unused stage is
// neither resolved nor built. Convert runs nothing: base images are looked
// up in the local store through ImageSource, everything else is left to
// the solver.
package convert
