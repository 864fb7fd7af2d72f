// Package scaffold owns `berth init`: it reads a compose project as berth
// would deploy it, guesses what each service is (a routed web service, an
// accessory, a worker), writes a first berth.yaml with every guess marked
// for review, and judges what it wrote with the same validation and policy
// code as `berth validate` and `berth policy check`.
//
// It guesses; it does not decide. Each guess is a "# review:" comment in the
// file saying what it was guessed from, so the user can check it in a
// minute, and nothing here is consulted again after init: the file the user
// keeps is the only record.
package scaffold
