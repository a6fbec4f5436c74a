using System.Net;
using System.Text;
using VoiceAgent.Gateway.Telephony.Sdp;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>RFC 3264 offer/answer for G.711 + telephone-event.</summary>
public sealed class SdpNegotiatorTests
{
    private static SdpSessionDescription Offer(string media, string attributes = "", string connection = "c=IN IP4 203.0.113.5\r\n") =>
        SdpSessionDescription.Parse(Encoding.UTF8.GetBytes("v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\n" + connection + "t=0 0\r\n" + media + attributes));

    [Theory]
    [InlineData("m=audio 4000 RTP/AVP 0 8 101\r\n", G711Codec.Pcmu, 0)]
    [InlineData("m=audio 4000 RTP/AVP 8 0 101\r\n", G711Codec.Pcma, 8)]
    [InlineData("m=audio 4000 RTP/AVP 18 9 8 0\r\n", G711Codec.Pcma, 8)]
    public void The_callers_first_supported_codec_wins(string media, G711Codec codec, int payloadType)
    {
        var answer = SdpNegotiator.Answer(Offer(media), new SdpLocalMedia("192.0.2.1", 30000));

        Assert.NotNull(answer.Plan);
        Assert.Equal(codec, answer.Plan.Codec);
        Assert.Equal(payloadType, answer.Plan.PayloadType);
        Assert.Contains($"m=audio 30000 RTP/AVP {payloadType}", answer.AnswerSdp, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dynamic_payload_type_mapped_to_pcmu_and_the_offered_telephone_event_number_are_used()
    {
        var answer = SdpNegotiator.Answer(
            Offer("m=audio 4000 RTP/AVP 96 97\r\n", "a=rtpmap:96 PCMU/8000\r\na=rtpmap:97 telephone-event/8000\r\n"),
            new SdpLocalMedia("192.0.2.1", 30000));

        Assert.Equal(G711Codec.Pcmu, answer.Plan!.Codec);
        Assert.Equal(96, answer.Plan.PayloadType);
        Assert.Equal(97, answer.Plan.DtmfPayloadType);
        Assert.Contains("m=audio 30000 RTP/AVP 96 97\r\n", answer.AnswerSdp, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:97 telephone-event/8000\r\n", answer.AnswerSdp, StringComparison.Ordinal);
        Assert.Contains("a=fmtp:97 0-15\r\n", answer.AnswerSdp, StringComparison.Ordinal);
    }

    [Fact]
    public void No_supported_codec_means_no_answer_and_a_reason()
    {
        var answer = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/AVP 9 18\r\n"), new SdpLocalMedia("192.0.2.1", 30000));
        Assert.Null(answer.Plan);
        Assert.Contains("no common codec", answer.FailureReason, StringComparison.Ordinal);

        var video = SdpNegotiator.Answer(Offer("m=video 4000 RTP/AVP 96\r\n"), new SdpLocalMedia("192.0.2.1", 30000));
        Assert.Equal("no audio stream in the offer", video.FailureReason);

        var secure = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/SAVP 0\r\n"), new SdpLocalMedia("192.0.2.1", 30000));
        Assert.Null(secure.Plan);
    }

    [Fact]
    public void Other_streams_are_kept_in_order_and_rejected_with_port_zero()
    {
        var answer = SdpNegotiator.Answer(
            Offer("m=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\n"),
            new SdpLocalMedia("192.0.2.1", 30000));

        var mLines = answer.AnswerSdp!.Split("\r\n").Where(l => l.StartsWith("m=", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["m=video 0 RTP/AVP 96", "m=audio 30000 RTP/AVP 0", "m=audio 0 RTP/AVP 8"], mLines);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 4000), answer.Plan!.RemoteRtp);
    }

    [Theory]
    [InlineData("a=sendrecv\r\n", MediaDirection.SendRecv, false)]
    [InlineData("a=sendonly\r\n", MediaDirection.RecvOnly, true)]
    [InlineData("a=inactive\r\n", MediaDirection.Inactive, true)]
    [InlineData("a=recvonly\r\n", MediaDirection.SendOnly, true)]
    public void The_answer_mirrors_the_offered_direction(string attribute, MediaDirection ours, bool hold)
    {
        var answer = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/AVP 0\r\n", attribute), new SdpLocalMedia("192.0.2.1", 30000));
        Assert.Equal(ours, answer.Plan!.Direction);
        Assert.Equal(hold, answer.Plan.OnHold);
        Assert.Contains($"a={ours.ToString().ToLowerInvariant()}\r\n", answer.AnswerSdp, StringComparison.Ordinal);
    }

    [Fact]
    public void Connection_address_zero_is_the_old_style_hold()
    {
        var answer = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/AVP 0\r\n", connection: "c=IN IP4 0.0.0.0\r\n"), new SdpLocalMedia("192.0.2.1", 30000));
        Assert.Null(answer.Plan!.RemoteRtp);
        Assert.False(answer.Plan.WeSend);
        Assert.True(answer.Plan.OnHold);
    }

    [Fact]
    public void The_origin_version_changes_only_when_the_answer_changes()
    {
        var local = new SdpLocalMedia("192.0.2.1", 30000);
        var first = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/AVP 0\r\n"), local).AnswerSdp!;
        var same = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/AVP 0\r\n"), local).AnswerSdp!;
        var held = SdpNegotiator.Answer(Offer("m=audio 4000 RTP/AVP 0\r\n", "a=sendonly\r\n"), local).AnswerSdp!;
        Assert.Equal(first, same);
        Assert.Contains($"o=voiceagent {local.SessionId} 2 IN IP4 192.0.2.1", held, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("o=- 1 1 IN IP4 1.2.3.4\r\n")]
    [InlineData("v=1\r\n")]
    [InlineData("v=0\r\nm=audio abc RTP/AVP 0\r\n")]
    [InlineData("v=0\r\nm=audio 4000\r\n")]
    [InlineData("v=0\r\nc=IN XYZ 1.2.3.4\r\n")]
    [InlineData("v=0\r\nthis is not sdp\r\n")]
    public void Malformed_sdp_throws_a_parse_exception_with_a_reason(string text)
    {
        var ex = Assert.Throws<SdpParseException>(() => SdpSessionDescription.Parse(Encoding.UTF8.GetBytes(text)));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }
}
