package tenant

// Actor is who asks: an org's token, or the operator. The API and the
// console build it from the authenticated token; background work uses its
// own.
type Actor struct {
	OrgID    string // "" for the operator
	Operator bool
	ID       string // token id
	Name     string
}

// Actor returns the actor a request authenticated with t acts as.
func (t Token) Actor() Actor {
	return Actor{OrgID: t.OrgID, Operator: t.Operator(), ID: t.ID, Name: t.Name}
}
