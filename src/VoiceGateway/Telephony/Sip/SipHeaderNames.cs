namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>
/// Canonical SIP header names and the RFC 3261 §7.3.3 compact forms. Header names are case-insensitive on the wire;
/// the parser stores the canonical spelling so the rest of the stack compares with ordinal equality.
/// </summary>
public static class SipHeaderNames
{
    public const string Via = "Via";
    public const string From = "From";
    public const string To = "To";
    public const string CallId = "Call-ID";
    public const string CSeq = "CSeq";
    public const string Contact = "Contact";
    public const string MaxForwards = "Max-Forwards";
    public const string ContentLength = "Content-Length";
    public const string ContentType = "Content-Type";
    public const string RecordRoute = "Record-Route";
    public const string Route = "Route";
    public const string Allow = "Allow";
    public const string Accept = "Accept";
    public const string Supported = "Supported";
    public const string Require = "Require";
    public const string Unsupported = "Unsupported";
    public const string Server = "Server";
    public const string UserAgent = "User-Agent";
    public const string Warning = "Warning";
    public const string RetryAfter = "Retry-After";
    public const string Subject = "Subject";
    public const string ContentEncoding = "Content-Encoding";
    public const string Event = "Event";
    public const string ReferTo = "Refer-To";
    public const string ReferredBy = "Referred-By";
    public const string SubscriptionState = "Subscription-State";

    private static readonly Dictionary<string, string> Canonical = new(StringComparer.OrdinalIgnoreCase)
    {
        [Via] = Via,
        ["v"] = Via,
        [From] = From,
        ["f"] = From,
        [To] = To,
        ["t"] = To,
        [CallId] = CallId,
        ["i"] = CallId,
        [CSeq] = CSeq,
        [Contact] = Contact,
        ["m"] = Contact,
        [MaxForwards] = MaxForwards,
        [ContentLength] = ContentLength,
        ["l"] = ContentLength,
        [ContentType] = ContentType,
        ["c"] = ContentType,
        [RecordRoute] = RecordRoute,
        [Route] = Route,
        [Allow] = Allow,
        [Accept] = Accept,
        [Supported] = Supported,
        ["k"] = Supported,
        [Require] = Require,
        [Unsupported] = Unsupported,
        [Server] = Server,
        [UserAgent] = UserAgent,
        [Warning] = Warning,
        [RetryAfter] = RetryAfter,
        [Subject] = Subject,
        ["s"] = Subject,
        [ContentEncoding] = ContentEncoding,
        ["e"] = ContentEncoding,
        [Event] = Event,
        ["o"] = Event,
        [ReferTo] = ReferTo,
        ["r"] = ReferTo,
        [ReferredBy] = ReferredBy,
        ["b"] = ReferredBy,
        [SubscriptionState] = SubscriptionState,
    };

    /// <summary>The canonical spelling of a header name (compact forms expanded); unknown names are kept as sent.</summary>
    public static string Normalize(string name) => Canonical.TryGetValue(name, out var canonical) ? canonical : name;
}
