// Package planfile is the plan's codec: the planfile `gantry plan --out`
// writes and `gantry apply FILE` reads (Write, Read: the whole plan, the
// desired manifests unmasked, refused unless it matches its digest under the
// stack's key), and the recorded form the store keeps (MarshalWithoutDesired,
// UnmarshalWithDesired, UnmarshalRecorded: the desired manifests stored
// apart, sealed). It also verifies the digests older gantry versions
// computed (verify.go). No I/O beyond the reader and writer it is given.
package planfile
