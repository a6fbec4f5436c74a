namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>The SIP status codes this user agent sends or acts on, with their reason phrases (RFC 3261, 3515, 6665).</summary>
public static class SipStatus
{
    public const int Trying = 100;
    public const int Ringing = 180;
    public const int Ok = 200;
    public const int Accepted = 202;
    public const int BadRequest = 400;
    public const int NotFound = 404;
    public const int MethodNotAllowed = 405;
    public const int RequestTimeout = 408;
    public const int UnsupportedMediaType = 415;
    public const int BadExtension = 420;
    public const int TemporarilyUnavailable = 480;
    public const int CallDoesNotExist = 481;
    public const int BusyHere = 486;
    public const int RequestTerminated = 487;
    public const int NotAcceptableHere = 488;
    public const int BadEvent = 489;
    public const int RequestPending = 491;
    public const int ServerInternalError = 500;
    public const int NotImplemented = 501;
    public const int ServiceUnavailable = 503;
    public const int VersionNotSupported = 505;
    public const int MessageTooLarge = 513;

    /// <summary>The standard reason phrase for <paramref name="code"/>.</summary>
    public static string Reason(int code) => code switch
    {
        Trying => "Trying",
        Ringing => "Ringing",
        Ok => "OK",
        Accepted => "Accepted",
        BadRequest => "Bad Request",
        NotFound => "Not Found",
        MethodNotAllowed => "Method Not Allowed",
        RequestTimeout => "Request Timeout",
        UnsupportedMediaType => "Unsupported Media Type",
        BadExtension => "Bad Extension",
        TemporarilyUnavailable => "Temporarily Unavailable",
        CallDoesNotExist => "Call/Transaction Does Not Exist",
        BusyHere => "Busy Here",
        RequestTerminated => "Request Terminated",
        NotAcceptableHere => "Not Acceptable Here",
        BadEvent => "Bad Event",
        RequestPending => "Request Pending",
        ServerInternalError => "Server Internal Error",
        NotImplemented => "Not Implemented",
        ServiceUnavailable => "Service Unavailable",
        VersionNotSupported => "Version Not Supported",
        MessageTooLarge => "Message Too Large",
        _ => code switch
        {
            < 200 => "Session Progress",
            < 300 => "OK",
            < 500 => "Client Error",
            < 600 => "Server Error",
            _ => "Global Failure",
        },
    };
}

/// <summary>SIP method names (RFC 3261 and the extensions this user agent knows about).</summary>
public static class SipMethods
{
    public const string Invite = "INVITE";
    public const string Ack = "ACK";
    public const string Bye = "BYE";
    public const string Cancel = "CANCEL";
    public const string Options = "OPTIONS";
    public const string Info = "INFO";

    /// <summary>Sent by the agent to hand the caller over (RFC 3515); a REFER from a peer is not implemented.</summary>
    public const string Refer = "REFER";

    /// <summary>Received: the progress of our REFER (RFC 3515 §2.4.4, sipfrag bodies).</summary>
    public const string Notify = "NOTIFY";

    /// <summary>What the Allow header advertises (RFC 3261 §13.1: INVITE implies ACK, CANCEL and BYE).</summary>
    public const string Allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY";
}
