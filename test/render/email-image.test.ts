import { imageFormatOf, isEmailSafeImage, pickEmailImage } from '../../src/articles/email-image';

describe('images an email may show', () => {
  test('the format comes from a CDN format parameter, then a Cloudinary f_ option, then the extension', () => {
    expect(imageFormatOf('https://a.example/x/photo.JPG')).toBe('jpg');
    expect(imageFormatOf('https://a.example/x/flag.svg.png?20191008')).toBe('png');
    expect(imageFormatOf('https://a.example/x/photo.webp?format=jpg')).toBe('jpg');
    expect(imageFormatOf('https://a.example/x/photo.jpg?fm=webp&w=600')).toBe('webp');
    expect(imageFormatOf('https://a.example/x/photo.jpg?format=image%2Fsvg%2Bxml')).toBe('svg');
    expect(imageFormatOf('https://res.a.example/image/upload/w_600,f_webp/v1/photo')).toBe('webp');
    expect(imageFormatOf('https://res.a.example/image/upload/f_auto,q_auto/v1/photo.png')).toBe('png');
    // Parameters that are not formats say nothing; the extension still counts.
    expect(imageFormatOf('https://a.example/x/photo.webp?type=large&format=auto')).toBe('webp');
    expect(imageFormatOf('https://a.example/p/8f3a2c')).toBeUndefined();
    expect(imageFormatOf('not a url')).toBeUndefined();
  });

  test('SVG, WebP, AVIF and the like are refused; JPEG, PNG, GIF and unknown CDN URLs pass; only http(s)', () => {
    for (const bad of ['https://a.example/i.svg', 'https://a.example/i.svgz', 'http://a.example/i.webp', 'https://a.example/i.avif', 'https://a.example/i.heic', 'https://a.example/i?fm=avif']) {
      expect(isEmailSafeImage(bad)).toBe(false);
    }
    for (const good of ['https://a.example/i.jpg', 'https://a.example/i.jpeg', 'https://a.example/i.png', 'http://a.example/i.gif', 'https://a.example/p/8f3a2c']) {
      expect(isEmailSafeImage(good)).toBe(true);
    }
    expect(isEmailSafeImage('data:image/png;base64,iVBORw0KGgo=')).toBe(false);
    expect(isEmailSafeImage('ftp://a.example/i.png')).toBe(false);
    expect(isEmailSafeImage(`https://a.example/${'a'.repeat(3000)}.png`)).toBe(false);
  });

  test('a feed that offers a WebP and a JPEG of the same picture gets the JPEG', () => {
    expect(pickEmailImage(['https://a.example/i.webp', undefined, 'https://a.example/i.svg', 'https://a.example/i-1200.jpg'])).toBe('https://a.example/i-1200.jpg');
    expect(pickEmailImage(['https://a.example/i.webp'])).toBeUndefined();
    expect(pickEmailImage([])).toBeUndefined();
  });
});
