using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Vocoder;

/// <summary>
/// Tensors over one fixed buffer whose shape varies in a single "frames" axis: a template entry of −k stands for
/// <c>frames × k</c>. A tensor is created the first time a frame count is used and kept (a reply only ever sees a
/// handful of counts: 28, 44, 16, 32 and a final size for the demo), so steady-state runs create no tensors.
/// </summary>
internal sealed class FrameTensorSet<T> : IDisposable
    where T : unmanaged
{
    private readonly T[] _buffer;
    private readonly long[] _template;
    private readonly OnnxTensor?[] _tensors;

    public FrameTensorSet(T[] buffer, long[] template, int maxFrames)
    {
        _buffer = buffer;
        _template = template;
        _tensors = new OnnxTensor?[maxFrames + 1];
    }

    public int MaxFrames => _tensors.Length - 1;

    public OnnxTensor Get(int frames)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frames, MaxFrames);
        if (_tensors[frames] is { } existing)
        {
            return existing;
        }

        var shape = new long[_template.Length];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = _template[i] < 0 ? frames * -_template[i] : _template[i];
        }

        var tensor = OnnxTensor.FromArray(_buffer, shape);
        _tensors[frames] = tensor;
        return tensor;
    }

    public void Dispose()
    {
        for (var i = 0; i < _tensors.Length; i++)
        {
            _tensors[i]?.Dispose();
            _tensors[i] = null;
        }
    }
}
