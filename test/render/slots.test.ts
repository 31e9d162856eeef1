import Handlebars from 'handlebars';
import type { SlotValues } from '../../src/render/contract';
import {
  countSlots,
  defuseText,
  defuseUrl,
  escapeHtml,
  fillSlots,
  neutralSlotValues,
  registerSlotHelper,
  slotMarker,
  splitSlots,
} from '../../src/render/slots';

const values: SlotValues = {
  greeting: 'Good morning, Zoë & "friends"',
  email: 'ann+news@example.com',
  unsubscribeUrl: 'https://daybreak.example/u?s=1&t=abc',
  preferencesUrl: 'https://daybreak.example/p?s=1&t=abc',
};

describe('slot markers', () => {
  test('marker format is %%slot:name%% and unknown names are refused', () => {
    expect(slotMarker('unsubscribeUrl')).toBe('%%slot:unsubscribeUrl%%');
    expect(() => slotMarker('nope' as never)).toThrow(/unknown slot/);
  });

  test('{{slot "name"}} helper renders the marker, in text and in attributes', () => {
    const hbs = Handlebars.create();
    registerSlotHelper(hbs);
    const out = hbs.compile('<p>{{slot "greeting"}}</p><a href="{{slot "unsubscribeUrl"}}">x</a>')({});
    expect(out).toBe('<p>%%slot:greeting%%</p><a href="%%slot:unsubscribeUrl%%">x</a>');
    expect(() => hbs.compile('{{slot "bogus"}}')({})).toThrow(/unknown slot/);
  });

  test('splitSlots cuts at markers; fillSlots puts values back, escaped when asked', () => {
    const split = splitSlots('A %%slot:greeting%% B <a href="%%slot:unsubscribeUrl%%">%%slot:email%%</a>');
    expect(split.slots).toEqual(['greeting', 'unsubscribeUrl', 'email']);
    expect(split.statics).toEqual(['A ', ' B <a href="', '">', '</a>']);
    expect(JSON.parse(JSON.stringify(split))).toEqual(split);
    expect(fillSlots(split, values)).toBe(
      'A Good morning, Zoë & "friends" B <a href="https://daybreak.example/u?s=1&t=abc">ann+news@example.com</a>',
    );
    expect(fillSlots(split, values, escapeHtml)).toBe(
      'A Good morning, Zoë &amp; &quot;friends&quot; B <a href="https://daybreak.example/u?s=1&amp;t=abc">ann+news@example.com</a>',
    );
    expect(countSlots(split)).toEqual({ greeting: 1, email: 1, unsubscribeUrl: 1, preferencesUrl: 0 });
  });

  test('a string without markers is one static; adjacent markers give empty statics', () => {
    expect(splitSlots('plain')).toEqual({ statics: ['plain'], slots: [] });
    expect(splitSlots('%%slot:email%%%%slot:email%%')).toEqual({ statics: ['', '', ''], slots: ['email', 'email'] });
  });

  test('a marker-shaped token with an unknown name is an error, not silently left in', () => {
    expect(() => splitSlots('x %%slot:password%% y')).toThrow(/unknown slot marker/);
  });

  test('defuse: untrusted text and URLs cannot forge a marker', () => {
    const forged = 'Win %%slot:email%% now 100%%%';
    expect(splitSlots(defuseText(forged)).slots).toEqual([]);
    expect(defuseText('50% off')).toBe('50% off');
    expect(defuseUrl('https://x.example/%%slot:email%%?q=%41')).toBe('https://x.example/%25%25slot:email%25%25?q=%41');
  });

  test('neutral values read naturally in the footer', () => {
    const v = neutralSlotValues({ unsubscribeUrl: 'https://d.example/unsubscribe', preferencesUrl: 'https://d.example/preferences' });
    expect(fillSlots('because %%slot:email%% subscribed', v)).toBe('because you subscribed');
  });
});
