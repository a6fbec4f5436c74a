namespace VoiceAgent.Core.Onnx;

/// <summary>
/// Per-run options (<c>OrtRunOptions</c>). Its terminate flag aborts every Run currently using it, from any thread, so
/// give each independently cancellable Run its own instance. <see cref="OnnxSession"/> creates one per call when only
/// a <see cref="CancellationToken"/> is passed.
/// </summary>
public sealed unsafe class OnnxRunOptions : IDisposable
{
    private readonly OrtPlainHandle _handle;
    private volatile bool _terminateRequested;

    /// <summary>Creates native run options.</summary>
    public OnnxRunOptions()
    {
        _ = OrtRuntime.Shared;
        var api = OrtRuntime.Api;
        _handle = new OrtPlainHandle(OrtHandleKind.RunOptions);
        nint native;
        api.Check(api.CreateRunOptions(&native));
        _handle.Attach(native);
    }

    /// <summary>Whether <see cref="Terminate"/> was called since creation or the last <see cref="ResetTerminate"/>.</summary>
    public bool IsTerminateRequested => _terminateRequested;

    internal OrtPlainHandle Handle => _handle;

    /// <summary>
    /// Makes runs using these options fail as soon as ORT next checks the flag (between nodes); runs started later fail
    /// at once until <see cref="ResetTerminate"/>. Safe from any thread; a no-op after <see cref="Dispose"/>.
    /// </summary>
    public void Terminate()
    {
        _terminateRequested = true;
        Invoke(OrtRuntime.Api.RunOptionsSetTerminate);
    }

    /// <summary>Clears the terminate flag so the options can be used again.</summary>
    public void ResetTerminate()
    {
        Invoke(OrtRuntime.Api.RunOptionsUnsetTerminate);
        _terminateRequested = false;
    }

    /// <summary>Releases the native options.</summary>
    public void Dispose() => _handle.Dispose();

    private void Invoke(delegate* unmanaged<nint, nint> call)
    {
        // A cancellation callback may race with disposal; terminating options nobody can use any more is moot.
        var addRef = false;
        try
        {
            _handle.DangerousAddRef(ref addRef);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            OrtRuntime.Api.Check(call(_handle.DangerousGetHandle()));
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }
}
